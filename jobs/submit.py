"""``corpusmill submit CONFIG --address …``: the run as a Ray job, through ``ray job submit``.

A thin wrapper so that nobody has to remember the working directory, the runtime environment
file and the entrypoint; it prints the command it runs, and returns ``ray``'s exit status (the
job's own when it waits)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from importlib import resources

from jobs.run import PASSES


def _ray() -> str:
    """The ``ray`` command of this environment (beside its Python), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ray")
    return beside if os.path.exists(beside) else "ray"


def runtime_env_path() -> str:
    return str(resources.files("jobs") / "runtime_env.yaml")


def submit_command(
    config: str,
    address: str,
    *,
    until: str = PASSES[-1],
    working_dir: str = ".",
    runtime_env: str | None = None,
    wait: bool = True,
    submission_id: str | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """The ``ray job submit`` command line; ``config`` is taken relative to ``working_dir`` on the cluster."""
    if until not in PASSES:
        raise ValueError(f"until must be one of {', '.join(PASSES)}, not {until!r}")
    cmd = [
        _ray(),
        "job",
        "submit",
        "--address",
        address,
        "--working-dir",
        working_dir,
        "--runtime-env",
        runtime_env or runtime_env_path(),
    ]
    if submission_id:
        cmd += ["--submission-id", submission_id]
    if not wait:
        cmd.append("--no-wait")
    return cmd + ["--", "python", "-m", "jobs.cli", "run", config, "--until", until, *(extra or [])]


def submit(config: str, address: str, **kwargs) -> int:
    working_dir = kwargs.get("working_dir", ".")
    if not os.path.isfile(os.path.join(working_dir, config)):
        raise FileNotFoundError(
            f"{config} is not inside the working directory {os.path.abspath(working_dir)}: "
            "the job reads its config from the uploaded copy"
        )
    cmd = submit_command(config, address, **kwargs)
    print("+ " + shlex.join(cmd), flush=True)
    return subprocess.call(cmd)
