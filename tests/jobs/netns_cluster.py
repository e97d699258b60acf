"""A two-node Ray cluster on this machine for tests: each node in its own network namespace.

Ray's loopback-only mode refuses a second node, and a normal head binds to the host's address.
Two namespaces joined by a veth pair are two hosts on a private link (10.213.0.1 and .2) that no
other machine can reach; the dashboard and job server bind to the head namespace's 127.0.0.1,
so jobs are submitted from inside it. Each node also runs in its own PID namespace
(``unshare --pid --kill-child``): ``ray stop`` would kill every Ray process of the machine, the
test session's own included, so teardown ends a node by ending its namespace instead.
Needs root (``ip netns``, ``unshare``); callers skip otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD, WORKER = "cm-head", "cm-worker"
HEAD_IP, WORKER_IP = "10.213.0.1", "10.213.0.2"
GCS_PORT, DASHBOARD = 6390, "http://127.0.0.1:8265"
RAY = str(Path(sys.executable).with_name("ray"))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def can_create_namespaces() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    try:
        _ip("netns", "add", "cm-probe")
        _ip("netns", "delete", "cm-probe")
    except (subprocess.CalledProcessError, OSError) as e:
        return f"ip netns add failed: {getattr(e, 'stderr', b'') or e}"
    return None


class NetnsCluster:
    """``with NetnsCluster(tmp) as c: c.in_head([...])`` — a head and a worker node, torn down on exit.
    One CPU slot per node by default: the cluster is no bigger than a 2-core machine, the smallest
    the run must finish on without a deadlock."""

    def __init__(self, cpus_per_node: int = 1, object_store_mb: int = 400) -> None:
        # short: Ray's socket paths under it must fit AF_UNIX's 107 bytes
        self.temp = Path(tempfile.mkdtemp(prefix="cm-ray-", dir="/tmp"))
        self.worker_temp = self.temp / "worker"
        self.cpus, self.store = cpus_per_node, object_store_mb << 20
        token = subprocess.run([RAY, "get-auth-token", "--generate"], capture_output=True, text=True, timeout=120)
        self.env = dict(
            os.environ,
            RAY_USAGE_STATS_ENABLED="0",
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN=token.stdout.strip().splitlines()[-1] if token.stdout.strip() else "",
        )
        self.env.pop("RAY_ADDRESS", None)
        self.env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # the local run's single-machine switch
        # the job's entrypoint (`python -m jobs.cli run`) must find this environment's Python
        self.env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + self.env.get("PATH", "")

    def in_head(
        self, cmd: list[str], cwd: str | None = None, timeout: float = 900, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run a command on the head's host (where the dashboard's 127.0.0.1 is)."""
        return subprocess.run(
            ["ip", "netns", "exec", HEAD, *cmd],
            env=self.env,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            check=check,
        )

    def _node(self, ns: str, args: list[str]) -> subprocess.Popen:
        cmd = [
            "ip",
            "netns",
            "exec",
            ns,
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            RAY,
            "start",
            "--block",
            "--num-cpus",
            str(self.cpus),
            "--object-store-memory",
            str(self.store),
            "--disable-usage-stats",
            *args,
        ]
        with open(self.temp / f"{ns}.log", "w") as log:
            self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT))
        return self.procs[-1]

    def __enter__(self) -> NetnsCluster:
        self.procs: list[subprocess.Popen] = []
        self._teardown_links()
        for ns in (HEAD, WORKER):
            _ip("netns", "add", ns)
        _ip("link", "add", "cm-veth-h", "type", "veth", "peer", "name", "cm-veth-w")
        for ns, dev, addr in ((HEAD, "cm-veth-h", HEAD_IP), (WORKER, "cm-veth-w", WORKER_IP)):
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        try:
            self._node(
                HEAD,
                [
                    "--head",
                    "--node-ip-address",
                    HEAD_IP,
                    "--port",
                    str(GCS_PORT),
                    "--dashboard-host",
                    "127.0.0.1",
                    "--temp-dir",
                    str(self.temp / "head"),
                ],
            )
            self._wait(1)
            self._start_worker(self.worker_temp)
            self._wait(2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start_worker(self, temp: Path) -> None:
        self.worker = self._node(
            WORKER, ["--address", f"{HEAD_IP}:{GCS_PORT}", "--node-ip-address", WORKER_IP, "--temp-dir", str(temp)]
        )

    def replace_worker(self) -> None:
        """The worker machine dies at once (its PID namespace ends with its first process: no clean
        shutdown) and a new one joins at the same address, as an autoscaler replaces a lost node."""
        self.worker.kill()
        self.worker.wait(timeout=60)
        self.procs.remove(self.worker)
        self._start_worker(self.temp / "worker2")
        self._wait(2)

    def in_head_background(self, cmd: list[str], cwd: str | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            ["ip", "netns", "exec", HEAD, *cmd],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
        )

    def _wait(self, nodes: int, seconds: float = 180) -> None:
        deadline = time.time() + seconds
        while any(p.poll() is not None for p in self.procs) or self.nodes() < nodes:
            if time.time() > deadline or any(p.poll() is not None for p in self.procs):
                logs = "\n".join(
                    (self.temp / f"{ns}.log").read_text()[-2000:]
                    for ns in (HEAD, WORKER)
                    if (self.temp / f"{ns}.log").exists()
                )
                raise RuntimeError(f"the cluster did not reach {nodes} node(s):\n{logs}")
            time.sleep(2)

    def nodes(self) -> int:
        try:
            out = self.in_head(
                [
                    sys.executable,
                    "-c",
                    f"import ray; ray.init(address='{HEAD_IP}:{GCS_PORT}', "
                    "logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))",
                ],
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return 0
        return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):  # the namespace's first process dies, and the kernel ends the rest
            proc.kill()
            proc.wait(timeout=60)
        self.procs.clear()
        self._teardown_links()
        shutil.rmtree(self.temp, ignore_errors=True)

    @staticmethod
    def _teardown_links() -> None:
        for ns in (HEAD, WORKER):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=30)
