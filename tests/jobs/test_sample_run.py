"""The embedded default end to end on local Ray: the bundled sample corpus to shards the loader reads."""

import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from jobs.cli import main
from jobs.config import default_config_path, load_config
from jobs.inspect_shards import describe
from jobs.run import run
from jobs.stats_schema import SCHEMA_VERSION, check_stats
from tests.conftest import REPO
from tests.jobs.conftest import tree_digest
from tests.stage_reasons import undeclared
from tokenization.shards.shards import read_manifest, verify_shards


def test_every_source_is_curated_and_every_record_accounted_for(sample_run):
    out, stats = sample_run
    curate = stats["curate"]
    assert curate["reconciled"]
    for source in ("web", "book", "code", "multimodal"):
        s = curate["sources"][source]
        built = s.get("created", 0) - s.get("merged", 0)  # code files merged into repository documents
        assert s["kept"] > 0 and s["in"] + built == s["kept"] + s["dropped"] + s["quarantined"]
        kept_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "curated" / source).glob("*.parquet"))
        assert kept_rows == s["kept"]
    reasons = {(r["stage"], r["reason"]) for r in curate["reasons"]}
    assert undeclared(curate["reasons"]) == []  # every stage emits only the reasons its spec declares
    assert ("exact_dedup", "exact_duplicate") in reasons  # the sample carries exact duplicates
    assert ("read", "image_unreadable") in reasons  # and one corrupt image
    code = curate["sources"]["code"]
    assert code["merged"] > 10 * code["created"] > 0  # files became one document per repository
    assert json.loads((out / "stats.json").read_text())["curate"]["totals"] == curate["totals"]


def test_stats_follow_their_schema_and_each_funnel_lists_the_stages_that_can_act(sample_run):
    out, stats = sample_run
    written = json.loads((out / "stats.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION and check_stats(written) == []
    funnel = {
        s: [r["stage"] for r in written["curate"]["funnel"] if r["source"] == s] for s in written["curate"]["sources"]
    }
    assert "image_checks" not in funnel["book"] and "pii_redact" not in funnel["book"]  # multimodal and web only
    assert "book_layout" in funnel["book"] and "book_layout" not in funnel["web"]
    assert "repo_document" in funnel["code"] and "repo_document" not in funnel["web"]
    assert "image_dedup" in funnel["multimodal"] and "near_dedup" not in funnel["multimodal"]  # skip_sources
    assert all(f[0] == "read" and "exact_dedup" in f for f in funnel.values())


def test_near_dedup_removes_a_second_edition_and_signs_whole_books_and_repositories(sample_run):
    out, stats = sample_run
    rejects = [
        r for f in sorted((out / "rejects" / "book").glob("near_dedup-*.parquet")) for r in pq.read_table(f).to_pylist()
    ]
    # two Gutenberg editions of Alice: the later id leaves, naming the first (the survivor order: originals, then
    # the earliest id), and the survivor counts the two
    assert [(r["id"], r["detail"], r["reason"]) for r in rejects] == [
        ("book/books.jsonl.gz#1", "book/books.jsonl.gz#0", "near_duplicate")
    ]
    assert "Alice" in rejects[0]["text"][:5000] and len(rejects[0]["text"]) > 100_000  # the whole book

    def ids(root: Path) -> set[str]:
        return {i for p in root.rglob("*.parquet") for i in pq.read_table(p)["id"].to_pylist()}

    signed, curated = ids(out / "near_dedup" / "signatures"), ids(out / "curated")
    assert signed == {i for i in curated if not i.startswith("multimodal/")}
    assert any(i.startswith("code/") and "#" not in i for i in signed)  # repository documents, not files
    funnel = {(f["source"], f["stage"]): f for f in stats["curate"]["funnel"]}
    assert funnel[("book", "near_dedup")]["dropped"] == 1
    # code is judged file by file first: the sample's repositories hold near copies of each other's files
    near = stats["curate"]["near_dedup"]["dropped"]
    assert near == sum(f["dropped"] for (_, stage), f in funnel.items() if stage == "near_dedup") and near > 1


def test_image_dedup_drops_a_reencoded_copy_and_keeps_figures_under_their_own_captions(sample_run):
    out, stats = sample_run
    files = sorted((out / "rejects" / "multimodal").glob("image_dedup-*.parquet"))
    rejects = {r["id"]: (r["reason"], r["detail"]) for f in files for r in pq.read_table(f).to_pylist()}
    # the shard's Chelsea at 320 px and JPEG quality 40, with the original's caption, names the original
    assert rejects["multimodal/webdataset/shard-000000.tar#000000013"] == (
        "near_duplicate_image",
        "multimodal/pairs.parquet#4",
    )
    assert all(reason == "near_duplicate_image" for reason, _ in rejects.values())
    kept = {i for p in (out / "curated" / "multimodal").glob("*.parquet") for i in pq.read_table(p)["id"].to_pylist()}
    figures = {"multimodal/pairs.parquet#58", "multimodal/pairs.parquet#59"}  # ssh-L.png in English and Japanese
    assert figures <= kept
    summary = stats["curate"]["image_dedup"]
    assert summary["near_duplicates"] >= 2 and summary["exact_duplicates"] >= 1
    assert summary["dropped_near_duplicate_image"] == len(rejects)


def test_the_quality_classifier_trains_once_scores_web_and_keeps_the_top_of_each_language(sample_run):
    """The sample trains a fastText classifier (books against every web page read) and keeps the top 0.8 of
    each (source, language) group of web pages; the model is loaded once per worker process."""
    out, stats = sample_run
    q = stats["curate"]["quality"]
    assert q["trained"] and q["training"]["examples_per_class"] > 100 and q["training"]["holdout_roc_auc"] > 0.6
    assert json.loads((out / "quality" / "model.json").read_text())["model_sha256"] == q["model_sha256"]
    assert hashlib.sha256((out / "quality" / "model.bin").read_bytes()).hexdigest() == q["model_sha256"]
    scored_files = len(list((out / "curated" / "web").glob("*.parquet")))
    assert q["model_loads"] == q["worker_processes"] <= 2 < scored_files  # loaded per process, not per file
    for group, g in q["groups"].items():
        assert (
            group.startswith("web/")
            and g["kept"] == math.ceil(0.8 * g["scored"])
            and g["scored"] == g["kept"] + g["dropped"]
        )
        assert sum(g["kept_histogram"]) == g["kept"] and sum(g["dropped_histogram"]) == g["dropped"]
    low = pq.read_table(out / "rejects" / "web", filters=[("stage", "=", "quality")]).to_pylist()
    assert len(low) == q["dropped"] > 0 and {r["reason"] for r in low} == {"low_score"}
    for r in low:
        group = f"web/{json.loads(r['meta'])['language']}"
        assert json.loads(r["meta"])["quality_score"] <= q["groups"][group]["cut"]  # at it: a tie past the fraction
        assert r["detail"].startswith("score ") and group in r["detail"]
    kept = pq.read_table(out / "curated" / "web")["meta"].to_pylist()
    assert all("quality_score" in json.loads(m) for m in kept)
    assert all(
        "quality_score" not in json.loads(m or "{}")
        for m in pq.read_table(out / "curated" / "book")["meta"].to_pylist()
    )
    examples = json.loads((out / "quality" / "examples.json").read_text())
    assert set(examples["dropped"]) <= set(q["groups"]) and examples["kept"]


def test_shards_match_manifest_and_design_schema(sample_run):
    out, stats = sample_run
    manifest = read_manifest(str(out / "shards"))
    assert manifest["seq_len"] == 4096 and manifest["mask"] == {
        "policy": "block_sparse",
        "block_size": 64,
        "window": 3,
        "global_blocks": 2,
        "random_blocks": 3,
    }
    assert set(manifest["source_tokens"]) == {"web", "book", "code", "multimodal"}
    mix = manifest["mix"]
    assert abs(sum(mix["achieved"].values()) - 1) < 1e-3 and mix["target"]["web"] == 0.45
    # the sample's captions are far too few for 10 %: optional in its config, they take their cap, and the others
    # keep their proportions among themselves (web's own cap may then set the total below the budget)
    assert mix["rates"]["multimodal"] == 4.0 and mix["binding"]["multimodal"] == "cap"
    assert mix["binding"]["web"] in ("budget", "sets the total") and mix["planned_tokens"] <= mix["budget"]
    assert mix["planned"]["book"] / mix["planned"]["code"] == pytest.approx(2.0, rel=1e-3)  # shares rounded to 4 places
    # what was packed may miss the plan (15 large repository documents are sampled whole): every source farther than
    # the tolerance from its target is named, and no other
    for source, target in mix["target"].items():
        far = abs(mix["achieved"].get(source, 0) - target) * 100 > mix["tolerance_pts"]
        assert far == (source in mix["off_target_pts"]), source
    assert set(mix["off_target_pts"]) >= {"multimodal"}  # named in a warning
    # best-fit-decreasing: every row full but, at worst, each pack group's last (a sample has few rows)
    groups = len({shard["file"].split("-")[1] for shard in manifest["shards"]})
    assert stats["pack"]["fill"] >= 1 - groups / stats["pack"]["rows"] - 0.001
    assert stats["pack"]["truncated_documents"] <= stats["pack"]["overlong_documents"]
    for shard in manifest["shards"]:
        data = (out / "shards" / shard["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    assert not list((out / "shards").glob("*.tmp*"))
    assert stats["pack"]["rows"] == manifest["rows"] and manifest["tokens"] == sum(manifest["source_tokens"].values())


def test_loader_reads_every_row_once_across_two_ranks_and_two_workers(sample_run):
    pytest.importorskip("torch")
    from tokenization.loader import make_loader

    out, stats = sample_run
    seen = []
    for rank in range(2):
        loader = make_loader(str(out / "shards"), batch_size=4, rank=rank, world_size=2, num_workers=2, remainder="pad")
        for batch in loader:
            assert batch["input_ids"].shape[1] == 4096
            seen += batch["index"].tolist()
    rows = stats["pack"]["rows"]
    assert set(seen) == set(range(rows)) and len(seen) == rows + rows % 2


def test_inspect_decodes_a_row_with_document_boundaries(sample_run):
    out, _ = sample_run
    text = describe(str(out))
    assert "shard-00000-0000.arrow" in text and "──── document 0:" in text and "<|bos|>" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard", "99"], "--shard 99: .* has shards 0 to 3"),
        (["--shard", "-1"], "--shard -1: .* has shards 0 to 3"),
        (["--row", "9999"], "--row 9999: shard-00000-0000.arrow has rows 0 to"),
    ],
)
def test_inspect_out_of_range_is_one_line_and_exit_2(sample_run, capsys, args, message):
    out, _ = sample_run
    assert main(["inspect", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err), err


def test_rerun_skips_finished_passes(sample_run):
    out, stats = sample_run
    before = tree_digest(out, ["curated", "tokenizer", "shards"])
    again = run(load_config(), str(out))
    assert again["curate"] == stats["curate"] and again["pack"] == stats["pack"]
    assert tree_digest(out, ["curated", "tokenizer", "shards"]) == before


def _kill_when(cmd: list[str], pattern: str, at_least: int, log: Path) -> None:
    """Start ``cmd`` and SIGKILL it (with the local Ray it started) once ``pattern`` matches ``at_least`` files."""
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        while len(glob.glob(pattern)) < at_least:
            assert proc.poll() is None, f"the run ended before it could be stopped: {log.read_text()[-2000:]}"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_killed_run_resumes_and_matches_with_other_cpus_and_blocks(sample_run, tmp_path):
    """The driver is killed mid-curation; the same command rerun, in its own Ray with 3 CPUs (3 tokenize tasks
    at once, not 2) on this 2-core machine, an 80 MB object store, other block sizes and the ``tokenizers``
    engine instead of tiktoken, skips the input files staged before the kill: same bytes."""
    out, _ = sample_run
    raw = yaml.safe_load(Path(default_config_path()).read_text())
    base = os.path.dirname(default_config_path())
    for source in raw["sources"]:
        source["paths"] = [os.path.normpath(os.path.join(base, p)) for p in source["paths"]]
        source["batch_rows"] = 7
    for eval_set in raw["curate"]["decontam"]["sets"]:  # relative paths start at the config's folder
        eval_set["path"] = os.path.normpath(os.path.join(base, eval_set["path"]))
    raw["ray"] = {"object_store_mb": 80, "spill_dir": str(tmp_path / "spill")}  # a small machine's store
    raw["tokenize"] = {**raw.get("tokenize", {}), "encoder": "tokenizers"}
    config = tmp_path / "other_blocks.yaml"
    config.write_text(yaml.safe_dump(raw))
    other = tmp_path / "out"
    cmd = [sys.executable, "-m", "jobs.cli", "run", str(config), "--output", str(other)]
    _kill_when(cmd + ["--num-cpus", "2"], str(other / "_staged" / "*.json"), 3, tmp_path / "killed.log")
    assert not (other / "_markers" / "curate.json").exists()
    done = subprocess.run(cmd + ["--num-cpus", "3"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    skipped = re.search(r"curate: (\d+) of (\d+) input files already staged by an earlier attempt", done.stderr)
    assert skipped and 3 <= int(skipped[1]) < int(skipped[2]), done.stderr[-2000:]
    assert not (other / "_staged").exists()
    subdirs = ["curated", "rejects", "quality", "tokenizer", "tokens", "shards"]  # quality: the classifier's bytes
    first, second = tree_digest(out, subdirs), tree_digest(other, subdirs)
    assert first and first == second


def test_packing_resumes_from_the_groups_it_finished(sample_run, tmp_path, caplog):
    """A pass stopped after two of four pack groups (their receipts written, the others' not; a shard
    of an unfinished group left half written): the rerun packs only the other two, same bytes."""
    out, stats = sample_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    (copy / "_markers" / "pack.json").unlink()
    receipts = sorted((copy / "_pack_groups").glob("group-*.json"))
    assert len(receipts) == 4
    for receipt in receipts[2:]:
        for shard in json.loads(receipt.read_text())["shards"]:
            (copy / "shards" / shard["file"]).write_bytes(b"half written")
        receipt.unlink()
    (copy / "shards" / "manifest.json").unlink()
    caplog.set_level(logging.INFO, logger="corpusmill")
    again = run(load_config(), str(copy))
    assert "pack: 2 of 4 groups already packed by an earlier attempt, skipped" in caplog.text
    assert "pack: tokens of an earlier attempt with these settings reused" in caplog.text
    assert again["pack"]["rows"] == stats["pack"]["rows"]
    assert tree_digest(copy, ["shards"]) == tree_digest(out, ["shards"])


def test_stats_and_report_hold_histograms_token_funnel_and_timings_that_add_up(sample_run):
    out, stats = sample_run
    pack = stats["pack"]
    hist = pack["histograms"]
    for name in ("document_tokens", "document_chars"):
        assert {s: sum(c) for s, c in hist[name]["counts"].items()} == pack["documents_before_mix"]
    assert sum(hist["row_fill"]["counts"]["all"]) == pack["rows"]
    funnel = pack["token_funnel"]
    assert {s: f["tokenized"] for s, f in funnel.items()} == pack["mix"]["tokens_before_mix"]
    assert {s: f["packed"] for s, f in funnel.items()} == pack["source_tokens"]
    assert {s: f["after_mix"] for s, f in funnel.items()} == pack["source_tokens"]  # no token is cut away
    assert set(stats["timings"]) == {
        "curate/read",
        "curate/exact_dedup",
        "curate/near_dedup",
        "curate/repo_documents",
        "curate/repo_near_dedup",
        "curate/image_dedup",
        "curate/decontam",
        "curate/quality",
        "tokenizer",
        "pack/tokenize",
        "pack/shards",
        "pack/images",
    }
    for source in stats["curate"]["sources"]:
        removed = [f["chars_removed"] for f in stats["curate"]["funnel"] if f["source"] == source]
        reasons = [r["chars"] for r in stats["curate"]["reasons"] if r["source"] == source]
        assert sum(removed) == sum(reasons)
    page = (out / "report" / "report.html").read_text()
    assert f"{stats['curate']['totals']['in']:,} read" in page and f"{pack['rows']:,}" in page
    rebuilt = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "report", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert rebuilt.stdout.strip() == str(out / "report" / "report.html")
    assert (out / "report" / "report.html").read_text() == page


def test_tokenizer_roundtrips_every_sample_document(sample_run):
    from tokenizers import Tokenizer

    out, _ = sample_run
    tok = Tokenizer.from_file(str(out / "tokenizer" / "tokenizer.json"))
    assert (out / "tokenizer" / "tokenizer_config.json").exists()
    checked = 0
    for path in sorted((out / "curated").rglob("*.parquet")):
        texts = pq.read_table(path, columns=["text"])["text"].to_pylist()
        ids = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        assert tok.decode_batch(ids, skip_special_tokens=False) == texts, path
        checked += len(texts)
    assert checked == sum(s["kept"] for s in sample_run[1]["curate"]["sources"].values())


def test_example_configs_validate():
    configs = {
        name: load_config(os.path.join(os.path.dirname(default_config_path()), name))
        for name in ("sample.yaml", "cluster.yaml")
    }
    for cfg in configs.values():
        assert {s.name for s in cfg.sources} == {"web", "book", "code", "multimodal"}
    assert configs["sample.yaml"].tokenizer.vocab_size == 32000
    assert configs["cluster.yaml"].tokenizer.vocab_size == 128000


def test_fim_reorders_about_a_tenth_of_code_documents(sample_run):
    from tokenization.tokenizer.special_tokens import FIM_MIDDLE, FIM_PREFIX, SPECIAL_IDS

    out, stats = sample_run
    tokens = pq.read_table(sorted((out / "tokens").glob("group-*.parquet")))  # tokenized, before mixing
    fim = {"code": 0, "other": 0}
    for source, ids in zip(tokens["source"].to_pylist(), tokens["token_ids"].to_pylist()):
        if SPECIAL_IDS[FIM_PREFIX] in ids:
            assert ids.count(SPECIAL_IDS[FIM_PREFIX]) == ids.count(SPECIAL_IDS[FIM_MIDDLE]) == 1
            fim["code" if source == "code" else "other"] += 1
    code_docs = stats["curate"]["sources"]["code"]["kept"]  # repository documents: a dozen or so
    # a seeded 10 % draw per document: within three standard deviations of a tenth
    assert fim["other"] == 0 and fim["code"] <= 0.1 * code_docs + 3 * (0.09 * code_docs) ** 0.5


def test_inspect_draws_a_row_mask(sample_run, tmp_path):
    from PIL import Image

    out, _ = sample_run
    png = tmp_path / "mask.png"
    assert main(["inspect", str(out), "--mask", "3", "--png", str(png)]) == 0
    with Image.open(png) as image:
        assert image.size == (1024, 1024) and len(image.getcolors(1 << 16)) >= 3


def test_loader_gives_image_bytes_with_their_spans(sample_run):
    import hashlib

    import torch

    from tokenization.loader import PackedLoader
    from tokenization.tokenizer.special_tokens import IMAGE_END_ID, IMAGE_ID, IMAGE_START_ID

    out, _ = sample_run
    manifest = read_manifest(str(out / "shards"))
    assert sum(e["images"] for e in manifest["images"]) > 0
    assert manifest["schema_version"] == 2 and manifest["image_tokens"]["image_tokens"] == 64
    assert verify_shards(str(out / "shards")) == []
    seen = 0
    for batch in PackedLoader(str(out / "shards"), 16, shuffle=False, images=True, attention="none", layout="causal"):
        for r, (row, spans) in enumerate(zip(batch["input_ids"], batch["images"])):
            assert int((row == IMAGE_START_ID).sum()) == int((row == IMAGE_END_ID).sum()) == len(spans)
            for span in spans:  # whole spans only: <|image_start|> 64 x <|image|> <|image_end|>, no loss on any
                a, n = span["start"], span["length"]
                assert n == 66 and row[a] == IMAGE_START_ID and row[a + n - 1] == IMAGE_END_ID
                assert bool((row[a + 1 : a + n - 1] == IMAGE_ID).all()) and not batch["loss_mask"][r, a : a + n].any()
                assert hashlib.sha256(span["bytes"]).hexdigest() == span["sha256"]
                seen += 1
    assert seen > 0 and isinstance(batch["input_ids"], torch.Tensor)


def test_shards_written_through_fsspec_match_the_local_ones(sample_run, tmp_path):
    """pack.output as an fsspec URL: every Ray worker writes through fsspec; same bytes, verified, loadable.
    Another output is another pack setting, so the pass reruns; the token groups, which do not depend
    on it, are reused."""
    from jobs.pack import run_pack
    from jobs.progress import Progress

    out, stats = sample_run
    cfg = load_config()
    cfg.pack.output = f"file://{tmp_path}/published"
    copy = tmp_path / "run"  # the shared run stays as it is for the other tests
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("shards"))
    progress = Progress()
    try:
        summary = run_pack(cfg, str(copy), stats["tokenizer"], cpus=2, progress=progress)
    finally:
        progress.close()
    assert summary["rows"] == stats["pack"]["rows"]
    local = tree_digest(out, ["shards"])
    remote = tree_digest(tmp_path, ["published"])
    assert sorted(local.values()) == sorted(remote.values())
    assert verify_shards(cfg.pack.output) == []
    from tokenization.loader import PackedLoader

    assert sum(b["input_ids"].shape[0] for b in PackedLoader(cfg.pack.output, 64)) == summary["rows"]


def test_a_pass_entrypoint_stops_after_its_pass_and_skips_finished_ones(sample_run, tmp_path):
    """``corpusmill run --until tokenizer`` on a finished run: curate and tokenizer skipped, no packing."""
    out, stats = sample_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("shards", "tokens"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "run",
            default_config_path(),
            "--until",
            "tokenizer",
            "--output",
            str(copy),
            "--num-cpus",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "curate: already done" in done.stderr and "tokenizer: already trained" in done.stderr
    assert f"sha256 {stats['tokenizer']['sha256'][:12]}" in done.stdout and "shards:" not in done.stdout
    assert not (copy / "shards").exists()
    assert set(json.loads((copy / "stats.json").read_text())) == {"schema_version", "curate", "tokenizer", "timings"}
