import json
import random

import pyarrow as pa
import pytest

from pipeline.dedup.survivors import (
    SurvivorConfig,
    classify_drops,
    drop_links,
    drops,
    edge_links,
    is_new,
    is_vendored,
    natural_key,
    ranks,
    vertex_files,
    vertex_groups,
    vertex_ids,
    vertices,
)
from pipeline.text.declared_language import declared_language, path_language

PERMISSIVE = {x.lower() for x in SurvivorConfig().permissive_licences}
OLD_DEFAULT = SurvivorConfig(priority=["permissive_licence", "stars", "longest"])


def _meta(r: dict) -> str:
    fields = {"license": r.get("licence"), "stars": r.get("stars"), "language": r.get("language")}
    return json.dumps({k: v for k, v in fields.items() if v is not None})


def _rows(rows: list[dict], cfg: SurvivorConfig) -> pa.Table:
    ids = [r["id"] for r in rows]
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "rank": pa.array(ranks(ids, [_meta(r) for r in rows], [r["chars"] for r in rows], cfg)),
        }
    )


def _names(rows: list[dict], cfg: SurvivorConfig, files: list[int] | None = None) -> list[str]:
    """Vertex names of rows, each with its own ``old`` flag."""
    files = files or [0] * len(rows)
    return [vertices(_rows([r], cfg), [f], [0], r.get("old", False))[0].as_py() for r, f in zip(rows, files)]


def _ranked(rows: list[dict], cfg: SurvivorConfig) -> list[str]:
    by_name = dict(zip(_names(rows, cfg), (r["id"] for r in rows)))
    return [by_name[n] for n in sorted(by_name)]


def test_each_criterion_outranks_the_ones_after_it():
    cfg = OLD_DEFAULT
    rows = [
        {"id": "old-short", "chars": 3, "old": True},
        {"id": "mit-short", "chars": 5, "licence": "mit"},
        {"id": "apache-long", "chars": 90, "licence": "apache-2.0", "stars": 1},
        {"id": "gpl-starred", "chars": 900, "licence": "gpl-3.0", "stars": 10_000},
        {"id": "starred", "chars": 10, "stars": 2},
        {"id": "longest", "chars": 1_000_000},
        {"id": "b-long", "chars": 50},
        {"id": "a-long", "chars": 50},
        {"id": "short", "chars": 1},
    ]
    assert _ranked(rows, cfg) == [
        "old-short",
        "apache-long",
        "mit-short",
        "gpl-starred",
        "starred",
        "longest",
        "a-long",
        "b-long",
        "short",
    ]
    assert _ranked(rows, SurvivorConfig(priority=["longest"])) == [
        "old-short",
        "longest",
        "gpl-starred",
        "apache-long",
        "a-long",
        "b-long",
        "starred",
        "mit-short",
        "short",
    ]
    assert _ranked(rows, SurvivorConfig(priority=["shortest"]))[:3] == ["old-short", "short", "mit-short"]
    assert _ranked(rows, SurvivorConfig(priority=[]))[:3] == ["old-short", "a-long", "apache-long"]  # id only


LANGUAGE_RANK = {None: 0, "en": 0, "zh": 1}  # undeclared ranks with the first language, others after the last


def natural(ident: str) -> tuple[str, int]:
    """Ids here are ``<prefix>/<number>``: the prefix, then the number as a number."""
    prefix, _, number = ident.rpartition("/")
    return prefix, int(number)


def test_sort_order_equals_a_python_key_on_random_rows():
    rng = random.Random(7)
    licences = [None, "mit", "apache-2.0", "gpl-3.0", "unknown", "bsd-3-clause"]
    rows = [
        {
            "id": f"{rng.choice(['web', 'code', 'b/vendor'])}/{rng.randrange(10**6)}",
            "chars": rng.choice([0, 1, 9, 10, 11, rng.randrange(10**7), 10**15 - 1]),
            "licence": rng.choice(licences),
            "stars": rng.choice([0, 1, 9, 10, 99, rng.randrange(10**9)]),
            "old": rng.random() < 0.2,
            "language": rng.choice([None, "en", "zh", "el"]),
        }
        for _ in range(400)
    ]
    rows = list({r["id"]: r for r in rows}.values())
    for cfg, key in [
        (
            OLD_DEFAULT,
            lambda r: (not r["old"], r["licence"] not in PERMISSIVE, -r["stars"], -r["chars"], natural(r["id"])),
        ),
        (
            SurvivorConfig(),
            lambda r: (
                not r["old"],
                "/vendor/" in r["id"],
                LANGUAGE_RANK.get(r["language"], 2),
                r["licence"] not in PERMISSIVE,
                -r["stars"],
                natural(r["id"]),
            ),
        ),
        (
            SurvivorConfig(priority=["stars", "shortest"]),
            lambda r: (not r["old"], -r["stars"], r["chars"], natural(r["id"])),
        ),
    ]:
        assert _ranked(rows, cfg) == [r["id"] for r in sorted(rows, key=key)]


def test_out_of_range_stars_and_lengths_are_clamped():
    cfg = OLD_DEFAULT
    rows = [
        {"id": "a", "chars": 10**16, "stars": 10**13},
        {"id": "b", "chars": 10**15 - 1, "stars": 10**12 - 1},
        {"id": "c", "chars": 5, "stars": -4},
        {"id": "d", "chars": 5, "stars": None},
    ]
    names = _names(rows, cfg)
    assert len({len(n) for n in names}) == 1  # fixed width: the prefix never spills into the id
    width = len(names[0]) - 1 - len("\x1ea\x1f") - 16
    assert names[0][:width] == names[1][:width]  # clamped to the same rank
    assert names[2][:width] == names[3][:width]  # negative or missing stars: none
    assert _ranked(rows, cfg) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("cfg", [SurvivorConfig(), SurvivorConfig(priority=["shortest"]), SurvivorConfig(priority=[])])
def test_ids_files_and_groups_round_trip(cfg):
    rng = random.Random(1)
    ids = ["web/00", "", "x", "code/ü/日本.py", "a\x1fb", "1234567890123456789", "ends-in-digits-0000001"]
    ids += [f"book/{rng.randrange(10**9)}" for _ in range(50)]
    files = [rng.choice([0, 1, 7, 10**9 - 1, rng.randrange(10**9)]) for _ in ids]
    groups = [rng.choice([0, 1, 10**7 - 1, rng.randrange(10**7)]) for _ in ids]
    t = _rows(
        [
            {"id": i, "chars": rng.randrange(10**6), "licence": rng.choice([None, "mit"]), "stars": rng.randrange(100)}
            for i in ids
        ],
        cfg,
    )
    names = vertices(t, files, groups, False)
    assert vertex_ids(names).to_pylist() == ids
    assert vertex_files(names).to_pylist() == files
    assert vertex_groups(names).to_pylist() == groups
    chunked = pa.chunked_array([names.slice(0, 3), names.slice(3)])
    assert vertex_ids(chunked).to_pylist() == ids and vertex_files(chunked).to_pylist() == files
    assert vertex_groups(chunked).to_pylist() == groups
    assert not any(is_new(vertices(t, files, groups, True)).to_pylist()) and all(is_new(names).to_pylist())


def test_ranks_read_the_configured_meta_fields():
    cfg = SurvivorConfig(priority=["permissive_licence", "stars"])
    metas = [
        json.dumps({"license": "MIT", "stars": 12}),
        json.dumps({"licence": "Apache-2.0", "max_stars_count": 7}),
        json.dumps({"licenses": ["BSD-3-Clause", "MIT"], "stars_count": 3.9}),
        json.dumps({"licenses": [], "stars": None, "max_stars_count": 5}),
        json.dumps({"license": "", "licence": "ISC", "stars": "many"}),
        json.dumps({"license": "GPL-3.0", "licence": "MIT", "stars": 0, "max_stars_count": 9}),
        json.dumps({"url": "https://example.com"}),
        "{}",
        "",
        None,
    ]
    got = ranks([f"d{i}" for i in range(len(metas))], metas, [1] * len(metas), cfg)
    stars = [12, 7, 3, 5, 0, 0, 0, 0, 0, 0]
    permissive = [True, True, True, False, True, False, False, False, False, False]
    assert got == [
        ("0" if p else "1") + f"{10**12 - 1 - n:012d}" + natural_key(f"d{i}")
        for i, (p, n) in enumerate(zip(permissive, stars))
    ]
    custom = SurvivorConfig(priority=["stars"], stars_fields=["watchers"])
    assert ranks(["a"], [json.dumps({"watchers": 4, "stars": 8})], [1], custom) == [f"{10**12 - 5:012d}a"]


def test_translations_in_locale_folders_lose_to_their_original_and_ids_tie_in_natural_order():
    # the Debian installation guide's apf.html: no lang attribute, the language is the folder (a real cluster)
    rows = [
        ("web/ig.jsonl.zst#1289", "ru"),
        ("web/ig.jsonl.zst#449", "en"),
        ("web/ig.jsonl.zst#197", "da"),
        ("web/ig.jsonl.zst#701", "id"),
    ]
    metas = [json.dumps({"url": f"file:///usr/share/doc/installation-guide-amd64/{lang}/apf.html"}) for _, lang in rows]
    got = ranks([i for i, _ in rows], metas, [1] * 4, SurvivorConfig())
    assert [i for _, i in sorted(zip(got, (i for i, _ in rows)))] == [
        "web/ig.jsonl.zst#449",
        "web/ig.jsonl.zst#197",
        "web/ig.jsonl.zst#701",
        "web/ig.jsonl.zst#1289",
    ]
    # the kernel's zh_CN translation (ranked after English) against an original in no locale folder (ranked as the
    # first language), and a declared meta.language against a code file's programming language
    ids = ["book/linux/translations/zh_CN/dev-tools/kasan.rst", "book/linux/dev-tools/kasan.rst", "code/r#de/x.py"]
    got = ranks(ids, [None, None, json.dumps({"language": "Python"})], [1] * 3, SurvivorConfig())
    assert [g[1] for g in got] == ["1", "0", "2"]  # zh, undeclared, a locale folder "de" (after the original flag)
    assert (
        ranks(
            ["a"],
            [json.dumps({"language": "zh-Hans", "url": "https://x/en/a"})],
            [1],
            SurvivorConfig(languages=["zh", "en"]),
        )[0][1]
        == "0"
    )


def test_locale_folders_are_read_from_folders_only():
    assert path_language("/usr/share/doc/pkg/pt_BR/index.html") == "pt"
    assert path_language("help/sr@latin/gnome-help/a.page") == "sr"
    assert path_language("Documentation/translations/zh_CN/a.rst") == "zh"
    assert path_language("docs/en/") == "en" and path_language("docs/en.html") is None
    assert path_language("src/io/ml/os/x.py") is None  # folder names in code trees, not languages
    assert declared_language("x", {"language": "en-GB"}) == "en"
    assert declared_language("a/fr/b", {"language": "Go"}) == "fr"  # a programming language is no declaration


def test_vendored_paths_are_told_by_their_folders():
    vendored = frozenset(SurvivorConfig().vendored_dirs)
    for ident in [
        "code/r.tar#pip/_vendor/rich/text.py",
        "code/app#node_modules/x/index.js",
        "code/r#Third_Party/zlib/inflate.c",
        "code/r#src\\vendor\\a.go",
    ]:
        assert is_vendored(ident, vendored), ident
    for ident in ["code/r#vendor.py", "code/r#src/vendoring.py", "web/vendor", "code/numpy.tar#numpy/version.py"]:
        assert not is_vendored(ident, vendored), ident


def test_drops_every_new_non_minimum_member_and_names_its_survivor():
    cfg = OLD_DEFAULT
    old = _names([{"id": "old-a", "chars": 5, "old": True}, {"id": "old-b", "chars": 500, "old": True}], cfg, [3, 4])
    new = _names(
        [
            {"id": "n-long", "chars": 900},
            {"id": "n-mid", "chars": 400},
            {"id": "n-short", "chars": 40},
            {"id": "m-long", "chars": 80},
            {"id": "m-short", "chars": 8},
        ],
        cfg,
        [5, 6, 7, 8, 9],
    )
    # converged stars: an old-led component holding another old document and two new ones;
    # a new-led component of two
    stars = pa.table({"u": [old[0], old[0], old[0], new[3]], "v": [old[1], new[0], new[2], new[4]]})
    got = drops(stars).select(["file", "id", "survivor", "survivor_file"]).to_pylist()
    assert got == [
        {"file": 5, "id": "n-long", "survivor": "old-a", "survivor_file": 3},
        {"file": 7, "id": "n-short", "survivor": "old-a", "survivor_file": 3},
        {"file": 9, "id": "m-short", "survivor": "m-long", "survivor_file": 8},
    ]
    assert drops(stars.slice(0, 0)).num_rows == 0


def test_a_drop_without_a_verified_edge_to_its_survivor_is_a_chain_drop():
    """a - b - c verified, a the survivor: b is joined to a directly, c only through b."""
    a, b, c = _names([{"id": i, "chars": 1} for i in ("a", "b", "c")], SurvivorConfig(), [0, 1, 2])
    edges = pa.table({"u": [a, b], "v": [b, c]})
    stars = pa.table({"u": [a, a], "v": [b, c]})
    links = pa.concat_tables([edge_links(edges), drop_links(drops(stars))])
    got = classify_drops(links).sort_by("id").to_pylist()
    assert got == [
        {"file": 1, "id": "b", "survivor": "a", "survivor_file": 0, "direct": True},
        {"file": 2, "id": "c", "survivor": "a", "survivor_file": 0, "direct": False},
    ]


def test_spdx_expressions_of_permissive_licences_rank_as_permissive():
    """Licences as the project writes them: a repository document joins its files' licences with AND
    (pipeline/code/repo_documents.py), SPDX headers give OR for dual licensing. The licence filter
    (pipeline/code/license_filter.py) allows both; the survivor order must not rank them below an
    unlicensed copy."""
    cfg = OLD_DEFAULT
    rows = [
        {"id": i, "chars": 100, "licence": lic}
        for i, lic in zip(
            ["dual", "joined", "bsd", "unlicensed-longer"],
            ["MIT OR Apache-2.0", "Apache-2.0 AND MIT", "BSD-3-Clause", None],
        )
    ]
    rows[-1]["chars"] = 1000
    assert _ranked(rows, cfg) == ["bsd", "dual", "joined", "unlicensed-longer"]
