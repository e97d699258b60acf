"""The whole run on a real two-node Ray cluster (one CPU each): per-core rate and what crosses the network.

Usage (root: network namespaces): python -m benchmarks.cluster_scaling [--gb 1] [--work $TMPDIR/corpusmill-e2e-bench]
                                  [--out benchmarks/results/cluster_scaling.json]

A head and a worker node, each in its own network namespace joined by a veth pair
(``tests/jobs/netns_cluster.py``, the cluster the job tests use), one CPU slot each. ``end_to_end.py`` runs
inside the head's namespace attached to it (``RAY_ADDRESS``), on the same raw corpus as its local runs (the
``--work`` folder's cached ``raw.json``), counting the bytes the head's end of the link sends and receives
during each step. The worker's end sends what the head receives, so per step ``sent + received`` is all
that crossed between the nodes.

Projection per node: a hash shuffle over N nodes keeps 1/N of each node's rows local and sends the rest, so on
two nodes about half of what a step shuffles crosses the link. Per node at N nodes a step then sends about
``2 x crossed / input x (input per node) x (N - 1) / N``. Caveats: both nodes share one machine's two cores and
disk (the link is a veth pair, not a NIC: no bandwidth limit is measured); reading is local on both nodes here,
where a cluster reads from shared storage; blocks a task produces on one node and the next consumes on the other
cross the link too, also outside shuffles.
Last line: JSON with the run's per-core rate, driver peak memory and bytes crossed per step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any

from tests.conftest import REPO
from tests.jobs.netns_cluster import GCS_PORT, HEAD_IP, NetnsCluster, can_create_namespaces

LINK = "cm-veth-h"  # the head's end of the veth pair


def per_node_projection(crossed_mb: float, input_mb: float, nodes: int, tb: float = 100) -> float:
    """MB one node sends in a step at ``nodes`` nodes and ``tb`` TB of input, from the two-node figure."""
    shuffled_per_input = 2 * crossed_mb / input_mb  # on two nodes about half of what is shuffled crosses
    return shuffled_per_input * (tb * 1e6 / nodes) * (nodes - 1) / nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "corpusmill-e2e-bench"))
    parser.add_argument("--out", default="benchmarks/results/cluster_scaling.json")
    args = parser.parse_args()
    if why := can_create_namespaces():
        raise SystemExit(f"no two-node cluster on this machine: {why}")
    inner = os.path.join(tempfile.mkdtemp(prefix="cm-cluster-bench-"), "end_to_end.json")
    cmd = ["env", f"RAY_ADDRESS={HEAD_IP}:{GCS_PORT}", sys.executable, "-m", "benchmarks.end_to_end"]
    cmd += ["--gb", str(args.gb), "--skip-sample", "--cpus", "2", "--work", args.work]
    cmd += ["--net-device", LINK, "--out", inner]
    with NetnsCluster(cpus_per_node=1, object_store_mb=1024) as cluster:
        job = cluster.in_head_background(cmd, cwd=REPO)
        assert job.stdout is not None
        for line in job.stdout:
            print(line, end="", flush=True)
        if job.wait() != 0:
            raise SystemExit(f"the run on the cluster failed (exit {job.returncode})")
    with open(inner) as f:
        run = json.load(f)["runs"][-1]
    summary = summarize(run)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"run": run, "summary": summary}, f, indent=2)
    print(json.dumps(summary), flush=True)


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """Per step: MB that crossed the link, and what one node would send at 100 TB on 100 nodes."""
    input_mb = run["input_mb_uncompressed"]
    crossed = {
        step: round(moved["sent_mb"] + moved["received_mb"], 1) for step, moved in run["network_mb_by_step"].items()
    }
    print(f"\ntwo nodes x 1 CPU: {run['mb_per_s_per_core']} MB/s per core, {run['wall_s']} s, {input_mb:,.0f} MB")
    print(f"{'step':<26}{'crossed MB':>12}{'per input MB':>14}{'per node, 100 TB on 100 nodes':>32}")
    projected = {}
    for step, mb in crossed.items():
        projected[step] = round(per_node_projection(mb, input_mb, 100) / 1e6, 2)  # TB
        print(f"{step:<26}{mb:>12,.1f}{mb / input_mb:>14.3f}{projected[step]:>29.2f} TB")
    return {
        "mb_per_s_per_core": run["mb_per_s_per_core"],
        "wall_s": run["wall_s"],
        "input_mb_uncompressed": input_mb,
        "driver_peak_rss_mb": run["driver_peak_rss_mb"],
        "crossed_mb_by_step": crossed,
        "tb_sent_per_node_100tb_100_nodes": projected,
    }


if __name__ == "__main__":
    main()
