"""Progress and cancellation hooks shared by long-running jobs.

The core never talks to a UI: callers pass ``on_progress(done, total, message)`` and, where a job
can be stopped, ``should_cancel()``; the CLI feeds tqdm, the app feeds ``st.progress``.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import FewShotError

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]


class Cancelled(FewShotError):
    """Raised when the caller's ``should_cancel`` flag turns true; finished work is kept."""


def no_progress(done: int, total: int, message: str) -> None:
    """The default progress callback: does nothing."""


def never_cancel() -> bool:
    """The default cancel flag: never set."""
    return False


def check_cancel(should_cancel: CancelFn, what: str) -> None:
    """Raise ``Cancelled`` when the caller asked to stop."""
    if should_cancel():
        raise Cancelled(f"{what} was cancelled; the work finished so far is kept.")


# Structured progress. A callback that declares keyword parameters ``step`` and/or ``metrics`` (or
# ``**kwargs``) receives them; a plain ``on_progress(done, total, message)`` keeps working unchanged.


@dataclass
class ProgressEvent:
    """One progress report as a record: what a job log holds, one JSON line each."""

    done: int
    total: int
    message: str
    step: str = ""  # which part of the work: "features", "sweep", "qformer", "classes", "loading", ...
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. {"qformer_loss": 0.41}, {"tokens_per_s": 12.5}
    time: float = field(default_factory=time.time)  # seconds since the epoch, when it was reported


def _accepts(fn: Callable, name: str) -> bool:
    """Whether ``fn`` takes the keyword ``name`` (directly or through ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def report(on_progress: ProgressFn, done: int, total: int, message: str, step: str = "", metrics: dict[str, float] | None = None) -> None:
    """Call ``on_progress``, passing ``step`` and ``metrics`` only to callbacks that take them."""
    extra: dict[str, Any] = {}
    if step and _accepts(on_progress, "step"):
        extra["step"] = step
    if metrics and _accepts(on_progress, "metrics"):
        extra["metrics"] = metrics
    on_progress(done, total, message, **extra)


class EventLog:
    """Progress events appended to a JSON-lines file (one object a line, flushed at once), for a watcher in
    another process. Each line has an ``event`` kind: ``progress`` (a ``ProgressEvent``), ``start``,
    ``result`` or ``end`` (with ``exit_code``)."""

    def __init__(self, path: Path | str) -> None:
        """Open (create) the log; ``FewShotError`` for a folder, a path under a file, or one that cannot be written."""
        from .storage import check_path_kind

        self.path = check_path_kind(path, "The events file", folder=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            open(self.path, "a", encoding="utf-8").close()
        except OSError as e:
            raise FewShotError(f"The events file {self.path} cannot be written ({e.strerror or e}). Choose another path.") from e

    def write(self, kind: str, **data: Any) -> None:
        """Append one event; ``FewShotError`` when the file cannot take it (a full disk)."""
        line = json.dumps({"event": kind, "time": time.time(), **data}, default=str)
        try:
            with open(self.path, "a", encoding="utf-8") as f:  # one write per line: a reader never sees half a line for long
                f.write(line + "\n")
        except OSError as e:
            raise FewShotError(f"Could not append to the events file {self.path} ({e.strerror or e}). Free some space or choose another path.") from e

    def progress(self, default_step: str = "") -> Callable[..., None]:
        """An ``on_progress`` callback that logs each report as a ``progress`` event."""

        def on_progress(done: int, total: int, message: str, step: str = "", metrics: dict[str, float] | None = None) -> None:
            event = ProgressEvent(int(done), int(total), str(message), step or default_step, dict(metrics or {}))
            self.write("progress", **{k: v for k, v in asdict(event).items() if k != "time"})

        return on_progress


def read_events(path: Path | str) -> list[dict[str, Any]]:
    """The events of a log so far; a line still being written (or damaged) is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events
