"""Durable jobs for the app: long work runs as a separate `python -m fewshot_core ...` process.

A job is a folder, ``<cache>/jobs/<kind>[-<slot>]/``, holding everything a watcher needs:

- ``job.json``: the command line, the settings it ran with (for the page to show), when it started;
- ``pid``: the process id (the job is the leader of its own process group);
- ``events.jsonl``: the CLI's ``--events`` log (progress with step and metrics, ``result``, ``end`` with the exit code);
- ``stdout.log`` / ``stderr.log``: what the command printed;
- ``cancel``: present once someone asked the job to stop.

The process is started in a new session, so it keeps running when the web server stops or restarts, and
holds CLIP or the LLM in its own memory, not the server's. Any registry (a restarted server, another
session) finds a job from its folder alone. One job runs per folder: one slot per kind (and per
description source).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fewshot_core import FewShotError
from fewshot_core.progress import read_events
from fewshot_core.storage import lock_for, read_json, write_json

REPO = Path(__file__).resolve().parent
CANCEL_GRACE_S = 3.0  # after SIGINT, seconds before the job's process group is killed outright (cancel ends within 5 s)


@dataclass
class Job:
    """A job folder and what its files say."""

    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def spec(self) -> dict[str, Any]:
        """``job.json``: argv, params (the settings to show), started (epoch seconds)."""
        try:
            data = read_json(self.folder / "job.json")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def params(self) -> dict[str, Any]:
        params = self.spec.get("params", {})
        return params if isinstance(params, dict) else {}

    @property
    def pid(self) -> int | None:
        try:
            return int((self.folder / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.folder / "events.jsonl")

    def last(self, kind: str) -> dict[str, Any] | None:
        """The latest event of ``kind`` (``progress``, ``result``, ``run_dir``, ``error``, ``end``)."""
        return next((e for e in reversed(self.events()) if e.get("event") == kind), None)

    @property
    def running(self) -> bool:
        return self.pid is not None and self.last("end") is None and _alive(self.pid, self.folder)

    @property
    def status(self) -> str:
        """running | finished | cancelled | failed."""
        end = self.last("end")
        if end is None:
            if self.pid is not None and _alive(self.pid, self.folder):
                return "running"
            return "cancelled" if (self.folder / "cancel").exists() else "failed"
        code = end.get("exit_code")
        if code == 0:
            return "finished"
        return "cancelled" if code == 130 or (self.folder / "cancel").exists() else "failed"

    @property
    def error(self) -> str:
        """Why a failed job failed: its one-line error, else the end of its stderr."""
        event = self.last("error")
        if event is not None:
            return str(event.get("message", ""))
        try:
            lines = (self.folder / "stderr.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return "\n".join(lines[-5:]) or "the job ended without a report (killed?)"

    @property
    def result(self) -> dict[str, Any] | None:
        event = self.last("result")
        return {k: v for k, v in event.items() if k not in ("event", "time")} if event else None

    def progress(self, step: str | None = None) -> dict[str, Any] | None:
        """The latest progress event (of ``step``, if given)."""
        for e in reversed(self.events()):
            if e.get("event") == "progress" and (step is None or e.get("step") == step):
                return e
        return None

    def metric_series(self, metric: str) -> list[float]:
        """Every value a metric took, in order (e.g. ``qformer_loss`` per epoch)."""
        return [float(e["metrics"][metric]) for e in self.events() if e.get("event") == "progress" and metric in (e.get("metrics") or {})]

    def eta_seconds(self, step: str) -> float | None:
        """Seconds left in ``step`` at the rate since its first report (None before two reports)."""
        reports = [e for e in self.events() if e.get("event") == "progress" and e.get("step") == step]
        if len(reports) < 2:
            return None
        first, last = reports[0], reports[-1]
        done, total = last.get("done", 0) - first.get("done", 0), last.get("total", 0)
        if done <= 0 or not total:
            return None
        rate = (last["time"] - first["time"]) / done
        return max(0.0, rate * (total - last["done"]) - (time.time() - last["time"]))

    @property
    def started(self) -> float:
        return float(self.spec.get("started", 0.0))

    def cancel(self, grace: float = CANCEL_GRACE_S) -> bool:
        """Stop the job: SIGINT to its process group (the CLI exits 130, keeping finished work), then SIGKILL
        after ``grace`` seconds. Returns whether it has ended."""
        (self.folder / "cancel").touch()
        pid = self.pid
        if pid is None or not _alive(pid, self.folder):
            return True
        _signal_group(pid, signal.SIGINT)
        end = time.monotonic() + grace
        while time.monotonic() < end:
            if not _alive(pid, self.folder):
                return True
            time.sleep(0.05)
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
        return not _alive(pid, self.folder)


class JobRegistry:
    """The job folders under ``<cache>/jobs``; stateless, so a new registry (a restarted app) sees every job."""

    def __init__(self, cache_root: Path | str) -> None:
        self.root = Path(cache_root) / "jobs"

    def folder(self, kind: str, slot: str = "") -> Path:
        name = f"{kind}-{slot}" if slot else kind
        if not name.replace("-", "").replace("_", "").isalnum():
            raise FewShotError(f"Job names are letters, digits, '-' and '_' (got {name!r}).")
        return self.root / name

    def get(self, kind: str, slot: str = "") -> Job | None:
        folder = self.folder(kind, slot)
        return Job(folder) if (folder / "job.json").is_file() else None

    def jobs(self) -> list[Job]:
        """Every job folder, newest first."""
        found = [Job(p.parent) for p in self.root.glob("*/job.json")] if self.root.is_dir() else []
        return sorted(found, key=lambda j: j.started, reverse=True)

    def start(self, kind: str, argv: list[str], params: dict[str, Any] | None = None, slot: str = "", secrets: dict[str, str] | None = None) -> Job:
        """Start ``python -m fewshot_core --events ... <argv>`` as job ``kind``/``slot``; ``secrets`` (an API key)
        go to the process's environment only, never into the job folder.

        Raises:
            FewShotError: a job is already running in that slot (cancel it first).
        """
        folder = self.folder(kind, slot)
        with lock_for(folder):  # two sessions clicking at once: one starts, the other is told it runs
            return self._start(folder, kind, slot, argv, params, secrets)

    def _start(self, folder: Path, kind: str, slot: str, argv: list[str], params: dict[str, Any] | None, secrets: dict[str, str] | None) -> Job:
        current = self.get(kind, slot)
        if current is not None and current.running:
            raise FewShotError(
                f"A {kind} job is already running (since {time.strftime('%H:%M:%S', time.localtime(current.started))}); cancel it first."
            )
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        command = [sys.executable, "-m", "fewshot_core", "--events", str(folder / "events.jsonl"), *map(str, argv)]
        with open(folder / "stdout.log", "wb") as out, open(folder / "stderr.log", "wb") as err:
            env = {
                **os.environ,
                **(secrets or {}),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            }
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO, env=env, start_new_session=True)
        (folder / "pid").write_text(str(process.pid))
        # job.json last: a watcher that finds it also finds the pid (a job is never seen half-started)
        write_json(folder / "job.json", {"kind": kind, "slot": slot, "argv": command, "params": params or {}, "started": time.time()})
        _CHILDREN[process.pid] = process  # reaped by poll(), so an ended child never lingers as a zombie
        return Job(folder)


_CHILDREN: dict[int, subprocess.Popen] = {}  # jobs this server process started (only to reap them)


def _alive(pid: int, folder: Path) -> bool:
    """Whether ``pid`` is still this job's process (not ended, not a zombie, not a reused id)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            return False
        return state != "Z" and str(folder) in cmdline
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the job leads its own session and process group: DataLoader workers stop too
    except (ProcessLookupError, PermissionError):
        pass
