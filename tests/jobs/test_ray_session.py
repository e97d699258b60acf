import glob
import re
import shutil
import subprocess
from pathlib import Path

import pytest


def _ray_pids() -> set[int]:
    pids = set()
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            cmd = Path(path).read_bytes()
        except OSError:
            continue
        if b"ray" in cmd or b"gcs_server" in cmd or b"raylet" in cmd:
            pids.add(int(path.split("/")[2]))
    return pids


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs `ss` (iproute2) to list listening sockets")
def test_local_ray_listens_on_loopback_only(ray_local):
    pids = _ray_pids()
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    ours = [line for line in listening if any(f"pid={pid}," in line for pid in pids)]
    assert ours, "no Ray listener found: the check would prove nothing"
    for line in ours:
        assert re.match(r"^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:127\.\d+\.\d+\.\d+\]):\d+$", line.split()[3]), line


def test_a_small_machine_gets_two_slots():
    """One core still gets two Ray slots: a shuffle's aggregator actor and the tasks that feed it hold
    slots at once."""
    from jobs.ray_session import local_slots

    assert local_slots(1) == 2 and local_slots(2) == 2 and local_slots(16) == 16
