"""A real cluster: a head and a second node (each in its own network namespace), the sample run
submitted with ``corpusmill submit`` (``ray job submit``), outputs equal to the local run's."""

import sys

import pytest

from jobs.submit import submit_command
from tests.conftest import REPO
from tests.jobs.conftest import tree_digest
from tests.jobs.netns_cluster import DASHBOARD, NetnsCluster, can_create_namespaces

OUTPUTS = ["curated", "rejects", "tokenizer", "tokens", "shards"]


def test_submit_command_names_the_working_dir_runtime_env_and_entrypoint():
    cmd = submit_command("jobs/configs/sample.yaml", "http://h:8265", stage="pack", extra=["--output", "/o"])
    assert cmd[0].endswith("ray") and cmd[1:3] == ["job", "submit"] and cmd[cmd.index("--address") + 1] == "http://h:8265"
    assert cmd[cmd.index("--runtime-env") + 1].endswith("jobs/runtime_env.yaml")
    assert cmd[cmd.index("--") + 1 :] == ["python", "-m", "jobs.pack", "--config", "jobs/configs/sample.yaml",
                                          "--output", "/o"]
    with pytest.raises(ValueError, match="stage"):
        submit_command("c.yaml", "a", stage="shuffle")


def test_submitted_job_on_two_nodes_writes_the_local_runs_bytes(sample_run, tmp_path):
    if why := can_create_namespaces():
        pytest.skip(f"no second node on this machine: {why}")
    local, _ = sample_run
    remote = tmp_path / "out"
    with NetnsCluster() as cluster:
        job = cluster.in_head([sys.executable, "-m", "jobs.cli", "submit", "jobs/configs/sample.yaml",
                               "--address", DASHBOARD, "--output", str(remote), "--submission-id", "sample-2-nodes"],
                              cwd=REPO, timeout=900, check=False)
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        assert "Job 'sample-2-nodes' succeeded" in job.stdout + job.stderr
        # the second node ran tasks: its workers wrote logs
        assert list(cluster.worker_temp.glob("session_*/logs/worker-*.out"))
    assert "records: 839 read" in job.stdout  # the job's summary reached the submitter
    first, second = tree_digest(local, OUTPUTS), tree_digest(remote, OUTPUTS)
    assert first and first == second
