"""Background jobs for the app: long work runs in a thread that outlives page switches and reruns.

The registry is process-wide (the pages get it through ``st.cache_resource``); a job name runs at
most once at a time, so a second click while training neither starts a second job nor stops the first.
Progress and cancellation use the core's ``on_progress`` / ``should_cancel`` hooks.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fewshot_core import FewShotError
from fewshot_core.progress import Cancelled

Work = Callable[[Callable[[int, int, str], None], Callable[[], bool]], Any]


@dataclass
class Job:
    """One background job and what it has reported."""

    name: str
    done: int = 0
    total: int = 0
    message: str = "starting"
    status: str = "running"  # running | finished | failed | cancelled
    error: str = ""
    result: Any = None
    started: float = field(default_factory=time.time)
    history: list[tuple[int, int, str]] = field(default_factory=list)
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    def progress(self, done: int, total: int, message: str) -> None:
        self.done, self.total, self.message = done, total, message
        self.history.append((done, total, message))

    def cancel(self) -> None:
        self.cancel_event.set()


class JobRegistry:
    """Jobs by name, shared by every session of this server process."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Job | None:
        return self._jobs.get(name)

    def start(self, name: str, work: Work) -> tuple[Job, bool]:
        """Start ``work`` as job ``name`` unless one is running; returns (job, started_now)."""
        with self._lock:
            current = self._jobs.get(name)
            if current is not None and current.running:
                return current, False
            job = self._jobs[name] = Job(name)
        threading.Thread(target=self._run, args=(job, work), name=f"job-{name}", daemon=True).start()
        return job, True

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        try:
            job.result = work(job.progress, job.cancel_event.is_set)
            job.status = "finished"
        except Cancelled as e:
            job.status, job.error = "cancelled", str(e)
        except FewShotError as e:
            job.status, job.error = "failed", str(e)
        except Exception as e:  # noqa: BLE001 - shown to the user with the trace, never silently lost
            job.status, job.error = "failed", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
