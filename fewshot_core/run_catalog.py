"""Which state each run folder is in, in words: complete, running, failed, cancelled, interrupted or partial;
how many seeds each shot count has; which run to open first; how the settings of runs differ.

A sweep started by ``reproduce`` records its outcome in ``outcome.json`` inside its run folder
(``track_run``): ``running`` with its process id once the sweep has started, then ``finished``, ``failed``
(with the error) or ``cancelled``. A run whose record still says ``running`` but whose process is gone was
interrupted (killed). A run folder without this record (a sweep run from the library, not by ``reproduce``) reads
as complete or partial from its unit files alone.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import FewShotError
from .progress import Cancelled, no_progress, report
from .storage import read_json, timestamp, write_json

log = logging.getLogger(__name__)

OUTCOME_FILE = "outcome.json"
UNIT = re.compile(r"^(\d+)-(\d+)$")  # units/<shots:02d>-<seed>.json (units.unit_name)
STATUSES = ("complete", "running", "failed", "cancelled", "interrupted", "partial")


@dataclass
class RunState:
    """What a run folder holds and how its sweep ended."""

    status: str  # one of STATUSES
    units: int  # finished units, zero-shot included
    expected: int  # units the sweep asks for: one per (shots, seed), plus zero-shot
    seeds: int  # seeds the sweep asks for
    seeds_done: dict[int, int] = field(default_factory=dict)  # shot count -> seeds finished at it
    message: str = ""  # why a failed run failed

    @property
    def empty(self) -> bool:
        """No few-shot unit finished (nothing to plot but zero-shot)."""
        return not any(self.seeds_done.values())

    def summary(self) -> str:
        """ "complete", "running: 3 of 41 units", "failed (no few-shot results): <why>", "cancelled: 3 of 20 seeds done", ..."""
        if self.status == "complete":
            return "complete"
        done = f"{self.units} of {self.expected} units" if self.status == "running" else seeds_phrase(self.seeds, self.seeds_done)
        text = f"{self.status}: " + ("no few-shot results" if self.empty and self.status != "running" else done)
        return text + (f" ({self.message})" if self.message else "")


def record_outcome(run_dir: Path | str, status: str, message: str = "") -> None:
    """Write the run's ``outcome.json`` (``running`` also records this process's id). Best effort: a folder that
    cannot take it (read-only, full) costs only the record, never the sweep or the error being reported."""
    record: dict[str, Any] = {"status": status, "time": timestamp()}
    if status == "running":
        record["pid"] = os.getpid()
    if message:
        record["message"] = message
    try:
        write_json(Path(run_dir) / OUTCOME_FILE, record)
    except (OSError, FewShotError) as e:
        log.warning("Could not record the run's outcome (%s) in %s: %s", status, run_dir, e)


def read_outcome(run_dir: Path | str) -> dict[str, Any]:
    """The run's ``outcome.json`` ({} when it has none or it cannot be read)."""
    try:
        record = read_json(Path(run_dir) / OUTCOME_FILE)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def track_run(run_dir: Path | str, sweep: Callable[..., Any]) -> Callable[..., Any]:
    """``sweep`` (``run_sweep``) that records its outcome in ``run_dir`` once it has started.

    "Started" is its first progress report (the run folder is then this run's, with its config written):
    a sweep refused before that (another run's folder, bad settings) writes nothing, so it cannot mark
    someone else's run as failed.
    """

    def run(*args: Any, **kwargs: Any) -> Any:
        inner, started = kwargs.get("on_progress", no_progress), []

        def on_progress(done: int, total: int, message: str, step: str = "", metrics: dict[str, float] | None = None) -> None:
            if not started:
                started.append(True)
                record_outcome(run_dir, "running")
            report(inner, done, total, message, step, metrics)

        try:
            result = sweep(*args, **{**kwargs, "on_progress": on_progress})
        except (KeyboardInterrupt, Cancelled):
            if started:
                record_outcome(run_dir, "cancelled")
            raise
        except BaseException as e:
            if started:
                record_outcome(run_dir, "failed", str(e) if isinstance(e, FewShotError) else f"{type(e).__name__}: {e}")
            raise
        record_outcome(run_dir, "finished")
        return result

    return run


def _alive(pid: Any) -> bool:
    """Whether process ``pid`` still runs the lab (its command line names fewshot_core, where /proc tells)."""
    try:
        pid = int(pid)
        os.kill(pid, 0)
    except (TypeError, ValueError, ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return b"fewshot_core" in cmdline.read_bytes() if cmdline.parent.is_dir() else True
    except OSError:
        return False


def seeds_done(run_dir: Path | str) -> dict[int, int]:
    """Shot count -> seeds whose unit finished, from the unit files' names (no file is opened)."""
    done: dict[int, set[int]] = {}
    for path in Path(run_dir, "units").glob("*.json"):
        m = UNIT.match(path.stem)
        if m:
            done.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    return {k: len(v) for k, v in sorted(done.items())}


def run_state(run: dict[str, Any]) -> RunState:
    """The state of a ``list_runs`` entry (path, config, units)."""
    sweep = run.get("config", {}).get("sweep", {}) or {}
    shots, seeds = sweep.get("shots") or [], sweep.get("seeds") or []
    expected = len(shots) * len(seeds) + 1
    outcome = read_outcome(run["path"])
    status = outcome.get("status")
    done = seeds_done(run["path"])
    units = int(run.get("units", 0))
    if status == "running":
        status = "running" if _alive(outcome.get("pid")) else "interrupted"
    elif units >= expected and expected > 1:
        status = "complete"
    elif status not in ("failed", "cancelled"):
        status = "partial"
    return RunState(status, units, expected, len(seeds), done, str(outcome.get("message", "")) if status == "failed" else "")


def seeds_phrase(seeds: int, done: dict[int, int] | None) -> str:
    """How many seeds each point has: "20 seeds", "3 of 20 seeds done", or per shot count when they differ
    ("1–3 of 20 seeds done: 3 at 1 shot, 1 at 4 shots")."""
    plural = "s" if seeds != 1 else ""
    counts = [n for n in (done or {}).values() if n]
    if done is None or (counts and min(counts) == max(counts) == seeds):
        return f"{seeds} seed{plural}"
    if not counts:
        return f"0 of {seeds} seed{plural} done"
    if min(counts) == max(counts):
        return f"{counts[0]} of {seeds} seed{plural} done"
    per_shot = ", ".join(f"{n} at {k} shot{'s' if k != 1 else ''}" for k, n in done.items() if n)
    return f"{min(counts)}–{max(counts)} of {seeds} seed{plural} done: {per_shot}"


def default_run(runs: list[dict[str, Any]], states: dict[str, RunState], live: str | None = None) -> str | None:
    """The run to open first: the one a sweep is running into, else the newest complete run, else the newest
    with few-shot results, else the newest (``runs`` newest first)."""
    if live is not None and any(r["path"] == live for r in runs):
        return live
    for wanted in (lambda s: s.status == "complete", lambda s: not s.empty):
        found = next((r["path"] for r in runs if wanted(states[r["path"]])), None)
        if found is not None:
            return found
    return runs[0]["path"] if runs else None


NOISE = {"key", "created", "checksum"}  # differ between any two runs; say nothing about how the numbers were made


def _flat(record: Any, prefix: str = "") -> dict[str, Any]:
    """{"sweep": {"adapter": {"lr": 1}}} -> {"sweep.adapter.lr": 1}."""
    if not isinstance(record, dict):
        return {prefix.rstrip("."): record}
    out: dict[str, Any] = {}
    for k, v in record.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v}
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if len(value) <= 8 else f"{value[0]}, {value[1]}, …, {value[-1]} ({len(value)} values)"
    return str(value)


def settings_diff(configs: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The settings on which runs differ: one row per setting ("sweep.adapter.lr"), one column per run (by its
    name), "-" where a run does not record it. Empty when every recorded setting is the same."""
    flat = {name: {k: v for k, v in _flat(c).items() if k.split(".")[0] not in NOISE} for name, c in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    rows = [{"setting": k, **{name: _shown(f.get(k)) for name, f in flat.items()}} for k in keys]
    differing = [r for r in rows if len({r[name] for name in flat}) > 1]
    return pd.DataFrame(differing, columns=["setting", *flat])
