"""A private Ray head for one test module: what a real cluster's head is, on this machine only.

    head = start_ray_head(folder, cpus=2)   # `ray start --head --block` on free ports, ~5–15 s
    head.address                            # "127.0.0.1:PORT": TLL_RAY_ADDRESS for the app's replicas
    head.env                                # what a process joining it needs (auth off, no usage stats)
    head.stop()                             # ends the `--block` process and every process of this head

Every port Ray would otherwise take by default (GCS 6379, dashboard agent 52365,
workers 10002–19999, …) is a free port picked here, so that this head never meets another Ray on the
machine (another test's private `ray.init`, a developer's cluster). It is stopped by its own means:
SIGTERM to the `--block` process, which takes its raylet and GCS down, then SIGKILL to its process
group and to whatever still runs from its temp folder. Never `ray stop`: that ends every Ray here.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER_PORTS = 32  # worker processes (tasks, actors) and drivers each take one


class RayHeadUnavailable(RuntimeError):
    """The head did not start; the message has the end of its output."""


def free_ports(n: int) -> list[int]:
    """n distinct ports free right now (held open together, so that none is handed out twice)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def ray_env() -> dict:
    """The environment of a process that runs or joins the head: Ray 2.60 turns token authentication on
    by default; the workers import the app's `core` from the repository."""
    return {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}


class RayHead:
    def __init__(self, proc: subprocess.Popen, port: int, temp_dir: Path, log: Path):
        self.proc, self.port, self.temp_dir, self.log = proc, port, temp_dir, log
        self.address = f"127.0.0.1:{port}"
        self.env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}

    def processes(self) -> list[int]:
        """Pids of this head's processes still alive: its session's processes name its temp folder in
        their command line (raylet, GCS, agents, workers), or belong to the `--block` process's group."""
        found = []
        marker = str(self.temp_dir).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                group = os.getpgid(int(proc.name))
            except (OSError, ProcessLookupError):
                continue
            if marker in cmdline or group == self.proc.pid:
                found.append(int(proc.name))
        return found

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self, timeout: float = 30.0) -> list[int]:
        """Stop the head and all its processes; returns the pids that had to be killed by force."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # `ray start --block` then stops the head's processes
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        forced = []
        deadline = time.monotonic() + 10
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
                forced.append(pid)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)
        if not self.processes():
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        return forced


def start_ray_head(cpus: int = 2, timeout: float = 90.0, env: dict | None = None) -> RayHead:
    """`ray start --head --block` with `cpus` CPUs on free ports, in a new process group and a short
    temp folder (Ray's Unix sockets live there: their paths may not pass ~107 characters); returned
    once it says it is up. `env`: more of the head's environment (RAY_<setting> for its raylet and GCS).
    Raises RayHeadUnavailable."""
    try:
        import ray  # noqa: F401 - fails loudly: scripts/test.sh installs requirements-ray.txt
    except ImportError as exc:
        raise RayHeadUnavailable(f"ray is not installed ({exc}): scripts/test.sh installs requirements-ray.txt")
    temp_dir = Path(tempfile.mkdtemp(prefix="tll-ray-", dir="/tmp"))
    log = temp_dir / "head.log"
    (port, node_manager, object_manager, agent_listen, agent_grpc, runtime_env, metrics, dashboard,
     *workers) = free_ports(8 + WORKER_PORTS)
    command = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
        f"--port={port}", f"--num-cpus={cpus}", "--num-gpus=0", "--include-dashboard=false",
        "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
        f"--node-manager-port={node_manager}", f"--object-manager-port={object_manager}",
        f"--dashboard-agent-listen-port={agent_listen}",
        f"--dashboard-agent-grpc-port={agent_grpc}", f"--runtime-env-agent-port={runtime_env}",
        f"--metrics-export-port={metrics}", f"--dashboard-port={dashboard}",
        f"--worker-port-list={','.join(map(str, workers))}", "--disable-usage-stats"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**ray_env(), **(env or {})}, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    head = RayHead(proc, port, temp_dir, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            head.stop()
            raise RayHeadUnavailable(f"`ray start --head` exited ({proc.returncode}):\n{head.tail()}")
        if _joinable(head):
            return head
        time.sleep(0.3)
    forced = head.stop()
    raise RayHeadUnavailable(f"the Ray head did not come up within {timeout:.0f} s (killed {forced}):\n{head.tail()}")


def _joinable(head: RayHead) -> bool:
    """Has `ray start` said the head is up (its raylet registered with the GCS)?"""
    return "Ray runtime started" in head.tail()
