"""Progress and cancellation hooks shared by long-running jobs.

The core never talks to a UI: callers pass ``on_progress(done, total, message)`` and, where a job
can be stopped, ``should_cancel()``; the CLI feeds tqdm, the app feeds ``st.progress``.
"""

from __future__ import annotations

from collections.abc import Callable

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
