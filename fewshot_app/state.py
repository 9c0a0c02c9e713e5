"""Page state you can trust: sections that follow a job, messages that survive a rerun, choices that survive a reload.

- ``follow_job``: a job's section is a fragment that polls the job folder every second; when the job this
  session saw running has ended, the whole page reruns, so every section that depends on its output (a new
  description set, cached features, the Encode button) is redrawn at once, with no click.
- ``flash`` / ``show_flash``: a message that a click produced, shown after the rerun that click causes.
- ``remembered_index`` / ``remember``: a page's choice (e.g. the description source) kept in a small JSON file
  beside the sidebar's settings, so a reload or a new session offers it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from fewshot_app.jobs import Job, JobRegistry
from fewshot_core.layout import CacheLayout
from fewshot_core.storage import read_json, write_json

POLL_S = 1.0  # how often a job's section looks at its folder


def follow_job(
    registry: JobRegistry, kind: str, draw: Callable[[Job | None], None], slot: str = "", on_end: Callable[[Job], None] | None = None
) -> None:
    """Draw ``draw(job)`` in a fragment that reruns every ``POLL_S`` seconds; when the job ends, rerun the page.

    "Ends" means: this session saw it running (in this fragment or a page run) and now it is not. ``on_end``
    runs first (e.g. to select the set the job made); the page rerun then redraws every section from disk.
    """
    seen = f"_job_running:{kind}-{slot}"

    @st.fragment(run_every=POLL_S)
    def section() -> None:
        job = registry.get(kind, slot)
        running = job is not None and job.running
        ended = st.session_state.get(seen, False) and not running
        st.session_state[seen] = running
        if ended:
            if on_end is not None and job is not None:
                on_end(job)
            st.rerun()  # the whole page: sections outside this fragment depend on what the job made
        draw(job)

    section()


def job_ended_here(kind: str, slot: str = "") -> None:
    """Forget that this session saw the job running (it was cancelled from this page: no rerun is owed)."""
    st.session_state.pop(f"_job_running:{kind}-{slot}", None)


def flash(place: str, kind: str, text: str) -> None:
    """Keep a message (``kind``: success, info, warning, error) for the next time ``show_flash(place)`` runs."""
    st.session_state.setdefault("_flash", {})[place] = (kind, text)


def show_flash(place: str) -> None:
    """Show, once, the message kept for ``place``."""
    kind, text = st.session_state.get("_flash", {}).pop(place, (None, None))
    if kind is not None:
        getattr(st, kind)(text)


def _choices_file():
    return CacheLayout.default().choices_file


def _choices() -> dict[str, Any]:
    try:
        data = read_json(_choices_file())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remembered_index(name: str, options: list[str], default: str) -> int:
    """The index of the option last chosen for ``name`` (saved by ``remember``), else of ``default``."""
    chosen = _choices().get(name)
    return options.index(chosen) if chosen in options else options.index(default)


def remember(name: str, key: str) -> None:
    """Widget callback: save the value of the widget ``key`` as the choice ``name``."""
    choices = _choices()
    choices[name] = st.session_state.get(key)
    try:
        write_json(_choices_file(), choices)
    except OSError:
        pass  # a read-only home: the choice holds for this session only


def _stamp(path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_data(show_spinner=False, max_entries=512)
def _covered(path: str, num_classes: int, stamps: tuple[int, ...]) -> tuple[int, ...]:
    from pathlib import Path

    from fewshot_core.descriptions.store import DescriptionSet

    return tuple(DescriptionSet(Path(path)).classes_with_lines(num_classes))


def set_coverage(dset, num_classes: int) -> list[int]:
    """The classes with at least one line in a description set, read again only when its files change
    (a class file or an edit written atomically changes its folder's modification time)."""
    stamps = tuple(_stamp(dset.path / part) for part in ("classes", "edits", "removals.json"))
    return list(_covered(str(dset.path), num_classes, stamps))
