"""A local Ray instance listens on loopback only, keeps its files private, and leaves no process behind.

Listening sockets are read from /proc/net/tcp and /proc/net/tcp6 and matched to the instance's processes (and this
driver process) through the socket inodes in /proc/<pid>/fd.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="reads listening sockets from /proc (Linux)")

from fewshot_core import ray_local  # noqa: E402
from fewshot_core.processes import descendants, same_process, start_token  # noqa: E402
from fewshot_core.ray_cluster import init_ray, shutdown_ray  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LISTEN = "0A"


def _proc_address(hex_address: str) -> str:
    """An address as /proc/net/tcp{,6} writes it (little-endian 32-bit words) in normal notation."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def listening_sockets(pids) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket the processes ``pids`` hold."""
    listening = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN:
                address, port = fields[1].rsplit(":", 1)
                listening[fields[9]] = (_proc_address(address), int(port, 16))
    found = []
    for pid in pids:
        for link in _fd_links(pid):
            inode = link[len("socket:[") : -1] if link.startswith("socket:[") else None
            if inode in listening:
                found.append((pid, *listening[inode]))
    return found


def _fd_links(pid: int) -> list[str]:
    """What the open files of ``pid`` point at (one closing meanwhile, e.g. listdir's own, is skipped)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    links = []
    for fd in fds:
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return links


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped and ip.ipv4_mapped.is_loopback)


def test_proc_address_decoding():
    assert _proc_address("0100007F") == "127.0.0.1" and _proc_address("00000000") == "0.0.0.0"
    assert _proc_address("00000000000000000000000001000000") == "::1"
    assert ipaddress.ip_address(_proc_address("0000000000000000FFFF00000100007F")).ipv4_mapped == ipaddress.ip_address("127.0.0.1")
    assert not _loopback("::") and not _loopback("0.0.0.0") and _loopback("::ffff:127.0.0.1")


def _worker_pid() -> int:
    return os.getpid()


def _start_straggler() -> int:
    """A process left behind by a task, in a session of its own: ray.shutdown() does not stop it, we must."""
    return subprocess.Popen(["sleep", "300"], start_new_session=True).pid


def test_a_local_instance_listens_on_loopback_only_and_stops_fully():
    ray = init_ray(num_cpus=1)
    try:
        instance = ray_local._state["instance"]
        worker = ray.get(ray.remote(_worker_pid).remote())  # a worker process is up, with its own server
        straggler = ray.get(ray.remote(_start_straggler).remote())
        processes = descendants(instance.roots)
        assert worker in processes and straggler in processes and len(processes) >= 4  # GCS, raylet, the worker (and Ray's agents)
        sockets = listening_sockets([*processes, os.getpid()])
        names = {pid: Path(f"/proc/{pid}/comm").read_text().strip() for pid, _, _ in sockets}
        assert {pid for pid, _, _ in sockets} >= {os.getpid(), worker}  # the driver and the worker do listen...
        assert [s for s in sockets if not _loopback(s[1])] == [], names  # ...all on 127.0.0.1 / ::1
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        assert stat.S_IMODE(instance.temp_dir.stat().st_mode) == 0o700  # Ray's 0777 folders sit inside it
        token = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
        if token.is_file():
            assert stat.S_IMODE(token.stat().st_mode) & 0o077 == 0
    finally:
        shutdown_ray()
    assert not ray.is_initialized()
    assert [pid for pid, token in processes.items() if same_process(pid, token)] == []  # agents and the straggler too, at once
    assert not instance.temp_dir.exists() and ray_local._state["instance"] is None


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_ctrl_c_on_a_ray_sweep_leaves_no_ray_process_behind(tmp_path):
    """Ctrl-C in a terminal (and the app's Cancel) sends SIGINT to the CLI's whole process group; every process of
    its Ray instance (GCS, raylet, agents, workers) must be gone within seconds (the agents used to stay 60-80 s)."""
    env = {**os.environ, "FEWSHOT_CACHE": str(tmp_path), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    argv = ["reproduce", "--dataset", "synthetic", "--shots", "1", "2", "4", "--texts", "0", "1", "--seeds", "3"]
    argv += ["--qformer-size", "tiny", "--qformer-epochs", "200", "--executor", "ray"]
    cli = subprocess.Popen(
        [sys.executable, "-m", "fewshot_core", *argv], env=env, cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True
    )
    try:
        token, processes, agents = start_token(cli.pid), {}, ("ray::DashboardA", "ray::RuntimeEnv")
        end = time.time() + 240
        while time.time() < end and not any(_comm(pid).startswith("ray::") and _comm(pid) not in agents for pid in processes):
            time.sleep(0.2)
            processes = descendants({cli.pid: token})  # the CLI, its Ray instance, the workers
        time.sleep(2)  # units under way
        processes = descendants({cli.pid: token})
        names = {_comm(p) for p in processes}
        assert {"raylet", "gcs_server", *agents} <= names, (names, cli.stderr)
        os.killpg(cli.pid, signal.SIGINT)
        assert cli.wait(timeout=60) == 130
    finally:
        cli.kill()
        cli.wait()
    end = time.time() + 10
    while time.time() < end and any(same_process(pid, t) for pid, t in processes.items()):
        time.sleep(0.1)
    assert {pid: _comm(pid) for pid, t in processes.items() if same_process(pid, t)} == {}
    assert not list(Path("/tmp").glob(f"fewshot-ray-*/r/session_*_{cli.pid}"))  # its session folder went too
