"""The near-dedup pass on local Ray: drops, byte-identical reruns, and incremental runs."""

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray.data

from jobs.near_dedup import run_near_dedup
from pipeline.curated_io import write_parquet_atomic
from pipeline.dedup.near import NearDedupConfig
from pipeline.schema import DOCUMENT_SCHEMA
from tests.conftest import stdlib_sources

SEED = 1234
NEW = {"web/50", "web/01", "web/51", "code/1", "web/05"}  # what the incremental run adds (survivors stay old)


def _edit(text: str, every: int) -> str:
    return " ".join("CHANGED" if i % every == every // 2 else w for i, w in enumerate(text.split()))


def _corpus() -> list[dict]:
    texts = stdlib_sources("*.py", limit=12)
    rows = [(f"web/{i:02d}", "web", t, {}) for i, t in enumerate(texts)]
    rows += [
        ("web/50", "web", _edit(texts[0], 60), {}),
        ("book/00", "book", _edit(texts[1], 80), {}),
        ("web/51", "web", " ".join(texts[2].split()[: len(texts[2].split()) // 2]), {}),
        ("code/0", "code", texts[3], {"license": "MIT"}),
        ("code/1", "code", texts[3] + "\n# x", {}),
    ]
    return [{"id": i, "source": s, "text": t, "meta": json.dumps(m), "images": []} for i, s, t, m in rows]


def _part(ident: str, parts: int) -> int:
    return int(hashlib.sha1(ident.encode()).hexdigest(), 16) % parts


def _write_curated(root: Path, docs: list[dict], parts: int = 3) -> None:
    """The curate pass's layout: curated/<source>/part-N.parquet, rows sorted by id."""
    for source in {d["source"] for d in docs}:
        for part in range(parts):
            rows = sorted(
                (d for d in docs if d["source"] == source and _part(d["id"], parts) == part), key=lambda d: d["id"]
            )
            if rows:
                path = root / "curated" / source / f"part-{part:05d}.parquet"
                write_parquet_atomic(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), str(path))


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("curated", "rejects", "near_dedup")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


def _dropped(root: Path) -> dict[str, str]:
    files = sorted((root / "rejects").rglob("near_dedup-*.parquet"))
    t = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
    return dict(zip(t["id"].to_pylist(), t["detail"].to_pylist())) if t else {}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, ray_local):
    root = tmp_path_factory.mktemp("full")
    _write_curated(root, _corpus())
    result = run_near_dedup(str(root), NearDedupConfig(), SEED, cpus=ray_local)
    return root, result


def test_near_duplicates_leave_curated_for_rejects_with_their_survivor(full_run):
    root, result = full_run
    dropped = _dropped(root)
    # the survivor order: a permissive licence (code/0), else the earliest id (web/00, book/00)
    assert dropped == {"web/50": "web/00", "web/01": "book/00", "web/03": "code/0", "code/1": "code/0"}
    kept = pa.concat_tables([pq.read_table(p) for p in sorted((root / "curated").rglob("*.parquet"))])
    assert sorted(kept["id"].to_pylist()) == sorted(d["id"] for d in _corpus() if d["id"] not in dropped)
    by_source = {}
    for c in result["counts"]:
        by_source[(c["source"], c["status"])] = by_source.get((c["source"], c["status"]), 0) + c["docs"]
    assert by_source == {("web", "kept"): -3, ("web", "dropped"): 3, ("code", "kept"): -1, ("code", "dropped"): 1}
    signed = pa.concat_tables([pq.read_table(p) for p in sorted((root / "near_dedup").rglob("part-*.parquet"))])
    assert sorted(signed["id"].to_pylist()) == sorted(kept["id"].to_pylist())  # the store holds what was published
    assert result["summary"]["dropped"] == 4 and result["summary"]["confirmed"] >= 4
    sizes = {i: json.loads(m).get("dup_cluster_size") for i, m in zip(kept["id"].to_pylist(), kept["meta"].to_pylist())}
    assert {i: n for i, n in sizes.items() if n} == {"web/00": 2, "book/00": 2, "code/0": 3}  # FineWeb-2's rehydration
    reasons = pa.concat_tables([pq.read_table(f) for f in sorted((root / "rejects").rglob("near_dedup-*.parquet"))])
    assert set(reasons["reason"].to_pylist()) <= {"near_duplicate", "near_duplicate_chain"}


@pytest.mark.parametrize("local_components", [True, False], ids=["components-in-one-task", "components-by-shuffles"])
def test_same_bytes_with_other_partitions_blocks_and_cpus(full_run, tmp_path, monkeypatch, local_components):
    import jobs.near_dedup

    if not local_components:  # every edge set over the limit: the distributed rounds
        monkeypatch.setattr(jobs.near_dedup, "LOCAL_COMPONENT_EDGES", -1)
    root, result = full_run
    assert result["summary"]["partitions"] == 1  # a corpus this small runs in one task
    _write_curated(tmp_path, _corpus())
    ctx = ray.data.DataContext.get_current()
    limits, block = ctx.execution_options.resource_limits, ctx.target_max_block_size
    ctx.execution_options.resource_limits, ctx.target_max_block_size = limits.copy(cpu=1), 4096
    try:  # one CPU, blocks of at most 4 kB, 7 shuffle partitions instead of one task
        shuffled = run_near_dedup(str(tmp_path), NearDedupConfig(partitions=7), SEED, cpus=1)
    finally:
        ctx.execution_options.resource_limits, ctx.target_max_block_size = limits, block
    assert _tree(tmp_path) == _tree(root)
    key = lambda c: json.dumps(c, sort_keys=True)  # noqa: E731
    assert sorted(shuffled["counts"], key=key) == sorted(result["counts"], key=key)  # what stats.json counts
    steps = ("documents", "confirmed", "checked", "rounds", "dropped", "chain_dropped")
    assert {k: shuffled["summary"][k] for k in steps} == {k: result["summary"][k] for k in steps}


def test_incremental_run_drops_new_copies_of_published_documents(full_run, tmp_path, ray_local):
    root, _ = full_run
    old, new = tmp_path / "old", tmp_path / "new"
    _write_curated(old, [d for d in _corpus() if d["id"] not in NEW])
    run_near_dedup(str(old), NearDedupConfig(), SEED, cpus=ray_local)
    old_files = _tree(old)
    _write_curated(new, [d for d in _corpus() if d["id"] in NEW], parts=2)
    shuffled = tmp_path / "shuffled"
    shutil.copytree(new, shuffled)
    run_near_dedup(str(new), NearDedupConfig(previous=[str(old)]), SEED, cpus=ray_local)  # in one task
    assert _dropped(new) == {k: v for k, v in _dropped(root).items() if k in NEW}
    assert _tree(old) == old_files  # published documents are never touched
    run_near_dedup(str(shuffled), NearDedupConfig(previous=[str(old)], partitions=3), SEED, cpus=ray_local)
    assert _tree(shuffled) == _tree(new) and _tree(old) == old_files  # the shuffled path: the same bytes
    with pytest.raises(ValueError, match="other settings"):
        run_near_dedup(str(new), NearDedupConfig(previous=[str(old)]), SEED + 1, cpus=ray_local)
