"""A real cluster: a head and a second node (each in its own network namespace), the sample run
submitted with ``corpusmill submit`` (``ray job submit``), a node lost mid-run, outputs equal to the
local run's."""

import glob
import re
import sys
import time

import pytest

from jobs.submit import submit_command
from tests.conftest import REPO
from tests.jobs.conftest import tree_digest
from tests.jobs.netns_cluster import DASHBOARD, NetnsCluster, can_create_namespaces

OUTPUTS = ["curated", "rejects", "tokenizer", "tokens", "shards"]


def test_submit_command_names_the_working_dir_runtime_env_and_entrypoint():
    cmd = submit_command("jobs/configs/sample.yaml", "http://h:8265", until="tokenizer", extra=["--output", "/o"])
    assert (
        cmd[0].endswith("ray") and cmd[1:3] == ["job", "submit"] and cmd[cmd.index("--address") + 1] == "http://h:8265"
    )
    assert cmd[cmd.index("--runtime-env") + 1].endswith("jobs/runtime_env.yaml")
    assert cmd[cmd.index("--") + 1 :] == [
        "python",
        "-m",
        "jobs.cli",
        "run",
        "jobs/configs/sample.yaml",
        "--until",
        "tokenizer",
        "--output",
        "/o",
    ]
    with pytest.raises(ValueError, match="until must be one of curate, tokenizer, pack"):
        submit_command("c.yaml", "a", until="shuffle")


def test_submitted_job_on_two_nodes_survives_a_lost_node_and_writes_the_local_runs_bytes(sample_run, tmp_path):
    """The sample submitted with ``corpusmill submit``; mid-curation the worker node is killed and a
    new one joins: Ray's retries finish the job, and its outputs equal the local run's byte for byte."""
    if why := can_create_namespaces():
        pytest.skip(f"no second node on this machine: {why}")
    local, _ = sample_run
    remote = tmp_path / "out"
    with NetnsCluster() as cluster:
        job = cluster.in_head_background(
            [
                sys.executable,
                "-m",
                "jobs.cli",
                "submit",
                "jobs/configs/sample.yaml",
                "--address",
                DASHBOARD,
                "--output",
                str(remote),
                "--submission-id",
                "sample-2-nodes",
            ],
            cwd=REPO,
        )
        deadline = time.time() + 600
        while len(glob.glob(str(remote / "_staged" / "*.json"))) < 2:
            assert job.poll() is None and time.time() < deadline, "the job ended before a node could be lost"
            time.sleep(0.05)
        # the first worker node ran tasks: its workers wrote logs
        assert list(cluster.worker_temp.glob("session_*/logs/worker-*.out"))
        cluster.replace_worker()
        output, _ = job.communicate(timeout=900)
        (tmp_path / "job.log").write_text(output)  # kept by pytest for the last runs: read it when this fails
        assert job.returncode == 0, output[-6000:]
        assert "Job 'sample-2-nodes' succeeded" in output
    assert "records: 855 read" in output  # the job's summary reached the submitter
    # progress lines reach the job's log (while the cluster is busy with the lost node, the counter may
    # not answer: a line then repeats the last figures)
    reading = r"corpusmill progress curate/read: \d+/\d+ files \(\d+%\), .*MB/s"
    assert re.search(reading, output), [line for line in output.splitlines() if "corpusmill" in line]
    assert "corpusmill done pack/images in" in output
    first, second = tree_digest(local, OUTPUTS), tree_digest(remote, OUTPUTS)
    assert first and first == second
