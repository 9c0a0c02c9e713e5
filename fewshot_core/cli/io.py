"""What the command line prints and reads besides its commands: progress bars, the ``--events`` log,
argument types with one-line errors, and logging that never garbles a progress bar or leaks a secret."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time
from typing import Any

from ..errors import FewShotError
from ..progress import EventLog, ProgressFn

_events: list[EventLog] = []  # the --events log of this run, if any (set once by main)


def tqdm_progress(desc: str = "") -> ProgressFn:
    """A progress callback drawing a tqdm bar on stderr (one bar per message prefix); with ``--events FILE``
    it also appends each report, with its step and metrics, to that file as a JSON line.

    When stderr is not a terminal (a log file, a pipe) no bar is drawn, since its ``\\r`` redraws would fill
    the log and leave a later ``error:`` line mid-line: a plain line is printed instead at most every
    ``LOG_EVERY_S`` seconds per bar, and when it completes."""
    if not _is_terminal(sys.stderr):
        return _line_progress(desc)
    from tqdm import tqdm

    bars: dict[str, Any] = {}
    log = _events[0].progress(desc) if _events else None

    def update(done: int, total: int, message: str, step: str = "", metrics: dict[str, float] | None = None) -> None:
        if log is not None:
            log(done, total, message, step=step, metrics=metrics)
        label = message.split(" ")[0] if message else desc
        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = tqdm(total=total or None, desc=desc or label, file=sys.stderr, leave=False, dynamic_ncols=True)
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        bar.set_postfix_str(message[-40:], refresh=False)
        bar.refresh()

    return update


LOG_EVERY_S = 10.0  # seconds between plain progress lines when stderr is not a terminal


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _line_progress(desc: str) -> ProgressFn:
    """Progress as whole lines (``desc: done/total message``), throttled per message prefix, for logs and pipes."""
    last: dict[str, float] = {}
    log = _events[0].progress(desc) if _events else None

    def update(done: int, total: int, message: str, step: str = "", metrics: dict[str, float] | None = None) -> None:
        if log is not None:
            log(done, total, message, step=step, metrics=metrics)
        label, now = (message.split(" ")[0] if message else desc), time.monotonic()
        finished = bool(total) and done >= total
        if finished or now - last.get(label, -math.inf) >= LOG_EVERY_S:
            last[label] = now
            print(f"{desc or label}: {done}/{total or '?'} {message}".rstrip(), file=sys.stderr, flush=True)

    return update


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error style: one ``error:`` line saying what to do, exit status 2. A negative number
    in any form (``-1e9``, ``-.5``, ``-inf``) is read as a value, not taken for an option ("expected one argument")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0 (seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def positive_number(text: str) -> float:
    """argparse type: a finite number above 0 (a learning rate): ``inf``, ``nan``, 0 and negatives are refused."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def nonnegative_number(text: str) -> float:
    """argparse type: a finite number of at least 0 (a weight decay)."""
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of at least 0, got {text}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def close_events() -> None:
    """End this run's ``--events`` log (the next ``main`` call in this process starts without one)."""
    _events.clear()


def emit(kind: str, **data: Any) -> None:
    """With ``--events FILE``: append a ``kind`` event (e.g. ``result``, ``run_dir``) for the app to read. A file
    that takes no more (a full disk) is dropped: the command's own output and exit status still tell."""
    if _events:
        try:
            _events[0].write(kind, **data)
        except FewShotError:
            _events.clear()


def print_json(data: Any) -> None:
    """Print a result as one JSON object on stdout."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def open_events(args: argparse.Namespace) -> None:
    """``--events FILE``: log progress there, and let SIGTERM stop the run like Ctrl-C (exit 130, work kept)."""
    if args.events is None:
        return
    import os
    import signal

    _events[:] = [EventLog(args.events)]
    emit("start", pid=os.getpid(), command=args.command)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


class _TqdmLogHandler(logging.StreamHandler):
    """Log lines on stderr printed above the progress bars (through tqdm.write) instead of into them."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def close_progress_bars() -> None:
    """Clear unfinished progress bars, so that the last message starts a line of its own."""
    tqdm_module = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm_module, "tqdm", None), "_instances", ())):
        bar.close()


def setup_logging(verbose: bool) -> None:
    """Warnings (or everything with -v) on stderr, with credentials removed from any URL in them."""
    from ..redact import RedactingFilter

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[_TqdmLogHandler()]
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
