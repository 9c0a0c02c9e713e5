"""Small pieces every page draws: a job's progress, cancel button and outcome; durations; user text made inert."""

from __future__ import annotations

import re
import time

import streamlit as st

from fewshot_app.jobs import Job
from fewshot_app.words import for_app


def duration(seconds: float) -> str:
    """Seconds in words: "45 s", "3 min 05 s", "2 h 10 min"."""
    seconds = int(round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def show_job(job: Job | None, what: str, eta_step: str | None = None, settings: bool = True) -> None:
    """Progress (latest step and message, elapsed time, ETA), a cancel button, and the outcome of a job; with
    ``settings``, what it runs, in words (its spec's description)."""
    if job is None:
        return
    status = job.status
    if settings:
        st.caption(f"{what} job: {escape_markdown(job.description)}.")
    event = job.progress()
    if status == "running":
        done, total = (event.get("done", 0), event.get("total", 0)) if event else (0, 0)
        message = event.get("message", "") if event else "starting (loading the libraries)"
        eta = job.eta_seconds(eta_step or (event.get("step", "") if event else ""))
        extra = f" · {duration(time.time() - job.started)} elapsed" + (f" · about {duration(eta)} left" if eta is not None else "")
        st.progress(min(1.0, done / total) if total else 0.0, text=f"{what}: {escape_markdown(message)}{extra}")
        if st.button(f"Cancel {what.lower()}", key=f"cancel-{job.name}"):
            start = time.monotonic()
            ended = job.cancel()
            st.info(f"Cancelled in {time.monotonic() - start:.1f} s; finished work is kept." if ended else "Cancelling…")
    elif status == "failed":
        st.error(f"{what} failed: {escape_markdown(for_app(job.error))}")
    elif status == "cancelled":
        st.warning(f"{what} was cancelled; finished work is kept (start it again to continue).")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()<>~$|!#])")


def escape_markdown(text: str) -> str:
    """User text made inert for st.warning/st.error/st.caption (which render Markdown): no links, images,
    HTML, code, colour directives or formulas; the characters themselves still show."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return text.replace("://", ":\\/\\/").replace("www.", "www\\.")  # bare URLs would otherwise become links
