"""A local Ray instance that only this machine can reach, and that leaves nothing behind.

- **Loopback only.** Ray 2.60 binds its gRPC servers (GCS, raylet, object manager, driver and workers) to the
  node IP, but ``ray.init`` replaces 127.0.0.1 by the machine's outward address unless Ray runs as a
  single-machine instance (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, what Ray does on macOS and Windows). That
  setting is switched on while the instance starts (its processes inherit it), and the node IP is checked
  afterwards: an instance on another address is stopped and refused. The dashboard is off.
- **Private files.** The session (logs, sockets; Ray makes its folders 0777) lives inside a fresh temporary
  folder only its owner can enter (0700), removed on shutdown; Ray's auth token file (``~/.ray/auth_token`` or ``$RAY_AUTH_TOKEN_PATH``) is made
  owner-only before Ray starts (Ray writes it with the default umask).
- **Stopped fully.** ``shutdown_ray`` (also run at exit, Ctrl-C included) calls ``ray.shutdown()``, then kills
  whatever of the instance's processes outlive it (Ray's agents linger for a minute), each recognised by its
  pid and start time.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FewShotError
from .processes import child_pids, descendants, same_process, signal_process, start_token

SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
log = logging.getLogger(__name__)


@dataclass
class LocalInstance:
    """The Ray instance this process started: its session folder and the processes ``ray.init`` started."""

    temp_dir: Path
    roots: dict[int, str] = field(default_factory=dict)  # pid -> start token of what ray.init started
    started: dict[int, str] = field(default_factory=dict)  # those and their descendants once up (Ray's agents)


_state: dict[str, Any] = {"instance": None, "atexit": False}  # one Ray per process, as Ray itself has


def start_local_instance(ray: Any, num_cpus: int, options: dict[str, Any]) -> LocalInstance:
    """Start a new local Ray instance on 127.0.0.1 with ``num_cpus`` CPUs and the given ``ray.init`` options.

    Raises:
        FewShotError: Ray came up on an address other than loopback (it is stopped first).
    """
    # Ray makes its own folders world-writable (0777), so they go inside one of ours that only this user can enter
    temp_dir = Path(tempfile.mkdtemp(prefix="fewshot-ray-", dir=_short_temp_root()))  # 0700
    before = set(child_pids(os.getpid()))
    instance = LocalInstance(temp_dir)
    _state["instance"] = instance
    if not _state["atexit"]:
        atexit.register(shutdown_ray)  # runs before Ray's own exit hook (registered earlier, so run later)
        _state["atexit"] = True
    protect_auth_token()
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        with _single_machine_ray():
            ray.init(address="local", num_cpus=num_cpus, _temp_dir=str(temp_dir / "r"), **options)
    finally:
        instance.roots = {pid: token for pid in child_pids(os.getpid()) if pid not in before and (token := start_token(pid))}
        instance.started = descendants(instance.roots)  # kept: an agent whose raylet died is nobody's child any more
        _restore_sigterm(sigterm)
        if not ray.is_initialized():
            shutdown_ray()
    node_ip = ray.util.get_node_ip_address()
    if not ipaddress.ip_address(node_ip).is_loopback:
        shutdown_ray()
        raise FewShotError(
            f"The local Ray instance came up on {node_ip}, not on 127.0.0.1, so other machines could reach it; it was "
            "stopped. Use Ray 2.60 (pip install 'ray[data]==2.60.0'), or start a cluster yourself and pass --ray-address."
        )
    return instance


def shutdown_ray(grace: float = 1.0) -> None:
    """Disconnect from Ray; stop a local instance this process started completely.

    After ``ray.shutdown()``, the instance's processes still alive ``grace`` seconds later get SIGTERM, and SIGKILL
    one second after that; its session folder is removed. Safe to call twice, and when Ray was never started.
    """
    instance: LocalInstance | None = _state["instance"]
    _state["instance"] = None
    ray = sys.modules.get("ray")
    processes = {**instance.started, **descendants(instance.roots)} if instance else {}
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    if instance is None:
        return
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        left = {pid: token for pid, token in processes.items() if same_process(pid, token)}
        if not left:
            break
        for pid, token in left.items():
            if sig is not None:
                signal_process(pid, token, sig)
        _wait_gone(left, grace if sig is None else 1.0)
    shutil.rmtree(instance.temp_dir, ignore_errors=True)


def _wait_gone(processes: dict[int, str], seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(same_process(pid, token) for pid, token in processes.items()):
        time.sleep(0.05)


def protect_auth_token() -> None:
    """Make Ray's token file owner-only before Ray starts: an existing one of ours is chmod 600, a missing one is
    created 600 with a fresh token (Ray's own format, 32 random bytes in hex), as Ray would create it 644."""
    mode = os.environ.get("RAY_AUTH_MODE", "token").lower()
    if mode != "token" or os.environ.get("RAY_AUTH_TOKEN"):
        return  # no token file in use
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        if path.is_file():
            info = path.stat()
            if info.st_mode & 0o077 and info.st_uid == getattr(os, "getuid", lambda: -1)():
                path.chmod(0o600)
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    except OSError as e:  # e.g. a read-only home: Ray reports what it cannot do itself
        log.warning("Could not protect the Ray auth token file %s: %s", path, e)


@contextmanager
def _single_machine_ray():
    """Ray's single-machine mode while the instance starts, so that its node IP (its bind address) is loopback."""
    from ray._private import ray_constants  # the flag is read at import; the one place Ray keeps it

    saved_env, saved_flag = os.environ.get(SINGLE_MACHINE_ENV), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_MACHINE_ENV], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(SINGLE_MACHINE_ENV, None)
        else:
            os.environ[SINGLE_MACHINE_ENV] = saved_env


def _restore_sigterm(handler: Any) -> None:
    """ray.init replaces the SIGTERM handler with sys.exit; the CLI's (stop like Ctrl-C, exit 130) comes back."""
    if threading.current_thread() is threading.main_thread() and handler is not None:
        signal.signal(signal.SIGTERM, handler)


def _short_temp_root() -> str | None:
    """Where the session folder goes: Ray's socket paths must stay under ~107 characters, so /tmp when it exists."""
    root = os.environ.get("RAY_TMPDIR") or "/tmp"
    return root if os.path.isdir(root) else None
