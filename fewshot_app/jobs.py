"""Durable jobs for the app: long work runs as a separate `python -m fewshot_core ...` process.

A job is a folder, ``<cache>/jobs/<kind>[-<slot>]/``, holding everything a watcher needs:

- ``spec.json``: the job spec it runs (``fewshot_core.jobspec``; the process reads it with ``--config``);
- ``job.json``: the same spec and its description in words (for the pages to show), when it started;
- ``pid`` and ``pid_start``: the process id (the job leads its own process group) and when that process started
  (``fewshot_core.processes.start_token``): a job is its pid *and* its start, so a reused pid is never the job;
- ``events.jsonl``: the CLI's ``--events`` log (progress with step and metrics, ``result``, ``end`` with the exit code);
- ``stdout.log`` / ``stderr.log``: what the command printed;
- ``cancel``: present once someone asked the job to stop.

The process is started in a new session, so it keeps running when the web server stops or restarts, and
holds CLIP or the LLM in its own memory, not the server's. Any registry (a restarted server, another
session) finds a job from its folder alone. One job runs per folder: one slot per kind (and per
description source).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fewshot_core import FewShotError
from fewshot_core.jobspec import SPEC_FILE, JobSpec, command_line, save_spec, spec_from_dict, split_secrets
from fewshot_core.layout import CacheLayout
from fewshot_core.processes import parse_pid, same_process, signal_group, start_token
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
    def record(self) -> dict[str, Any]:
        """``job.json``: kind, slot, spec (its settings, credentials removed), description, started (epoch seconds)."""
        try:
            data = read_json(self.folder / "job.json")
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def spec(self) -> JobSpec | None:
        """The spec the job runs, as ``job.json`` records it; None when it records none that reads back (a
        hand-edited or damaged folder)."""
        try:
            return spec_from_dict(self.record.get("spec"), f"{self.folder / 'job.json'}")
        except FewShotError:
            return None

    @property
    def description(self) -> str:
        """The job's settings in plain words (``JobSpec.describe``), or "not recorded"."""
        text = self.record.get("description")
        return text if isinstance(text, str) and text else "not recorded"

    @property
    def pid(self) -> int | None:
        """The job's pid, or None when the ``pid`` file is missing or holds no plausible pid (0, -1, 1, huge, text)."""
        return parse_pid(_read_small(self.folder / "pid"))

    @property
    def pid_start(self) -> str | None:
        """When the job's process started (recorded at launch); without it the job is never taken for running."""
        return _read_small(self.folder / "pid_start").strip() or None

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.folder / "events.jsonl")

    def last(self, kind: str) -> dict[str, Any] | None:
        """The latest event of ``kind`` (``progress``, ``result``, ``run_dir``, ``error``, ``end``)."""
        return next((e for e in reversed(self.events()) if e.get("event") == kind), None)

    @property
    def running(self) -> bool:
        return self.last("end") is None and self._alive()

    def _alive(self) -> bool:
        return _alive(self.pid, self.pid_start)

    @property
    def status(self) -> str:
        """running | finished | cancelled | failed."""
        end = self.last("end")
        if end is None:
            if self._alive():
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
        """Every value a metric took, in order (e.g. ``qformer_loss`` per epoch); values that are no number are skipped."""
        values = []
        for e in self.events():
            metrics = e.get("metrics")
            if e.get("event") == "progress" and isinstance(metrics, dict) and (value := _number(metrics.get(metric))) is not None:
                values.append(value)
        return values

    def eta_seconds(self, step: str) -> float | None:
        """Seconds left in ``step`` at the rate since its first report (None before two reports); reports whose
        time, done or total is no number are skipped."""
        reports = []
        for e in self.events():
            if e.get("event") == "progress" and e.get("step") == step:
                numbers = [_number(e.get(k)) for k in ("time", "done", "total")]
                if None not in numbers:
                    reports.append(numbers)
        if len(reports) < 2:
            return None
        (t0, done0, _), (t1, done1, total) = reports[0], reports[-1]
        if done1 - done0 <= 0 or not total:
            return None
        rate = (t1 - t0) / (done1 - done0)
        return max(0.0, rate * (total - done1) - (time.time() - t1))

    @property
    def started(self) -> float:
        """When the job started (epoch seconds); 0 when job.json holds no number there."""
        return _number(self.record.get("started")) or 0.0

    def cancel(self, grace: float = CANCEL_GRACE_S) -> bool:
        """Stop the job: SIGINT to its process group (the CLI exits 130, keeping finished work), then SIGKILL
        after ``grace`` seconds. Returns whether it has ended."""
        (self.folder / "cancel").touch()
        pid, token = self.pid, self.pid_start
        if not _alive(pid, token):
            return True  # nothing to stop: no signal goes to a pid this job cannot prove is its own
        signal_group(pid, token, signal.SIGINT)
        end = time.monotonic() + grace
        while time.monotonic() < end:
            if not _alive(pid, token):
                return True
            time.sleep(0.05)
        signal_group(pid, token, signal.SIGKILL)  # checked again: the pid may have ended and been reused meanwhile
        time.sleep(0.2)
        return not _alive(pid, token)


class JobRegistry:
    """The job folders under ``<cache>/jobs``; stateless, so a new registry (a restarted app) sees every job."""

    def __init__(self, cache_root: Path | str | CacheLayout) -> None:
        self.layout = CacheLayout.of(cache_root)
        self.root = self.layout.jobs

    def folder(self, kind: str, slot: str = "") -> Path:
        return self.layout.job_dir(kind, slot)

    def get(self, kind: str, slot: str = "") -> Job | None:
        folder = self.folder(kind, slot)
        return Job(folder) if (folder / "job.json").is_file() else None

    def jobs(self) -> list[Job]:
        """Every job folder, newest first."""
        found = [Job(p.parent) for p in self.root.glob("*/job.json")] if self.root.is_dir() else []
        return sorted(found, key=lambda j: j.started, reverse=True)

    def start(self, kind: str, spec: JobSpec, slot: str = "", secrets: dict[str, str] | None = None) -> Job:
        """Start ``spec`` as job ``kind``/``slot``: its spec file is written into the job folder and run by
        ``python -m fewshot_core --events ... <command> --config <spec file>``. ``secrets`` (an API key) and any
        credential the spec's texts hold (a URL's password) go to the process's environment only, never into the
        job folder.

        Raises:
            FewShotError: a job is already running in that slot (cancel it first).
        """
        folder = self.folder(kind, slot)
        with lock_for(folder):  # two sessions clicking at once: one starts, the other is told it runs
            return self._start(folder, kind, slot, spec, secrets)

    def _start(self, folder: Path, kind: str, slot: str, spec: JobSpec, secrets: dict[str, str] | None) -> Job:
        current = self.get(kind, slot)
        if current is not None and current.running:
            raise FewShotError(
                f"A {kind} job is already running (since {time.strftime('%H:%M:%S', time.localtime(current.started))}); cancel it first."
            )
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        public, carried = split_secrets(spec)  # credentials in a URL are removed before storing (README); the job gets them by environment
        save_spec(public, folder / SPEC_FILE)
        command = command_line(public, folder / SPEC_FILE, folder / "events.jsonl")
        with open(folder / "stdout.log", "wb") as out, open(folder / "stderr.log", "wb") as err:
            env = {
                **os.environ,
                **(secrets or {}),
                **carried,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            }
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO, env=env, start_new_session=True)
        record_process(folder, process.pid)
        # job.json last: a watcher that finds it also finds the pid (a job is never seen half-started)
        record = {"kind": kind, "slot": slot, "spec": public.to_dict(), "description": public.describe(), "started": time.time()}
        write_json(folder / "job.json", record)
        _CHILDREN[process.pid] = process  # reaped by poll(), so an ended child never lingers as a zombie
        return Job(folder)


_CHILDREN: dict[int, subprocess.Popen] = {}  # jobs this server process started (only to reap them)


def record_process(folder: Path, pid: int) -> None:
    """Write a job's identity: its start token first, then its pid (a reader never pairs a pid with no start)."""
    (folder / "pid_start").write_text(start_token(pid) or "")
    (folder / "pid").write_text(str(pid))


def _alive(pid: int | None, token: str | None) -> bool:
    """Whether ``pid`` is still the job's process: the same start time (not a reused pid), not ended, not a zombie.
    Never by its command line: another process naming the job folder (``tail -f .../stderr.log``) is not the job."""
    if pid is None or not token:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:  # ours and ended: reaped now, so it never lingers as a zombie
        return False
    return same_process(pid, token)


def _read_small(path: Path, limit: int = 256) -> str:
    """The start of a small regular file ("" if missing, not a regular file, e.g. a FIFO, or unreadable)."""
    try:
        if not path.is_file():
            return ""
        with open(path, "rb") as f:
            return f.read(limit).decode("ascii", errors="replace")
    except OSError:
        return ""


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None for text, booleans, None, NaN and infinities (a hand-edited job folder)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None
