"""Knowing a process again: its pid *and* when it started, so that a reused pid is never taken for it.

A process's start token is read from ``/proc/<pid>/stat`` (field 22, clock ticks since boot, with the boot id) on
Linux, else from ``ps -o lstart=`` (macOS, the BSDs; to the second). A zombie, a missing process and an unreadable
one have no token. Signals go only to a process whose token still matches.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

PID_TEXT = re.compile(r"[0-9]{1,10}")  # a pid as a job folder stores it; longer numbers are no pid
PID_MAX = 2**22  # Linux's largest pid_max; other systems stay far below it
_HAS_PROC = Path("/proc/self/stat").is_file()


def parse_pid(text: str) -> int | None:
    """The pid written in ``text``, or None unless it is a plain number above 1 (0, -1, 1 and huge ones would
    make a signal reach a process group, every process, or init)."""
    text = text.strip()
    if not PID_TEXT.fullmatch(text):
        return None
    pid = int(text)
    return pid if 1 < pid <= PID_MAX else None


def start_token(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque string (None: no such process, a zombie, or unreadable).

    Two tokens are equal only for the same process: a pid reused by a later process gets another token.
    """
    if pid <= 1:
        return None
    return _proc_token(pid) if _HAS_PROC else _ps_token(pid)


def _proc_token(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # comm may hold spaces and ')'
    except (OSError, IndexError):
        return None
    if len(fields) < 20 or fields[0] in ("Z", "X"):  # fields[0] is field 3 (state); field 22 is fields[19]
        return None
    return f"proc:{_boot_id()}:{fields[19]}"


def _boot_id() -> str:
    """This boot's id: start ticks count from boot, so a token must not match across a reboot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _ps_token(pid: int) -> str | None:
    """The portable fallback (no /proc): start time to the second, and no zombies."""
    try:
        out = subprocess.run(["ps", "-o", "stat=", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    line = out.stdout.strip()
    if out.returncode != 0 or not line or line.startswith("Z"):
        return None
    return f"ps:{line.split(None, 1)[-1]}"


def same_process(pid: int | None, token: str | None) -> bool:
    """Whether ``pid`` is still the process whose start token was ``token`` (and is not a zombie)."""
    return pid is not None and bool(token) and start_token(pid) == token


def signal_group(pid: int, token: str | None, sig: int) -> bool:
    """Send ``sig`` to the process group led by ``pid``, only if ``pid`` is still that process (``token``), leads
    its own group, and is neither this process nor this process's group. Returns whether it was sent."""
    if not same_process(pid, token) or pid in (os.getpid(), os.getpgrp()):
        return False
    try:
        if os.getpgid(pid) != pid:
            return False
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def signal_process(pid: int, token: str | None, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to ``pid`` only if it is still the process of ``token`` (and not this one)."""
    if pid == os.getpid() or not same_process(pid, token):
        return False
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def child_pids(pid: int) -> list[int]:
    """The live children of ``pid`` (from /proc, else ``ps -A -o pid=,ppid=``)."""
    pairs = _proc_parents() if _HAS_PROC else _ps_parents()
    return [child for child, parent in pairs if parent == pid]


def _proc_parents() -> list[tuple[int, int]]:
    pairs = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            pairs.append((int(entry.name), int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])))
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return pairs


def _ps_parents() -> list[tuple[int, int]]:
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in out.splitlines() if len(line.split()) == 2) if a.isdigit() and b.isdigit()]


def descendants(roots: dict[int, str]) -> dict[int, str]:
    """``roots`` (pid -> start token) that are still those processes, and every live process under them, with
    their start tokens: the processes to stop, each recognisable later even if its pid is reused."""
    children: dict[int, list[int]] = {}
    for child, parent in _proc_parents() if _HAS_PROC else _ps_parents():
        children.setdefault(parent, []).append(child)
    found = {pid: token for pid, token in roots.items() if same_process(pid, token)}
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and (token := start_token(child)):
                found[child] = token
                todo.append(child)
    return found
