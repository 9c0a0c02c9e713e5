"""What every page shares: the sidebar settings (drawn once, by app.py), the job registry and job views.

The settings object in session state (and the file behind it) is the truth. The sidebar is drawn on
every run by the router, before the page, so its widgets never leave the script and keep their values
across page switches; their keys are seeded from the settings only when missing (a new session).
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from dataclasses import asdict, fields

import streamlit as st

from app_jobs import Job, JobRegistry
from fewshot_core.config import BackboneConfig
from fewshot_core.datasets import dataset_title, list_datasets
from fewshot_core.executors import EXECUTORS
from fewshot_core.jobspec import DatasetSpec, ExecutorSpec, resolve_backbone
from fewshot_core.settings import DEVICES, MAX_SEEDS, LabSettings, load_settings, save_settings


def _store_settings() -> None:
    """Widget callback (runs before the script): copy the sidebar's values into the saved settings."""
    current = st.session_state.settings
    values = {f.name: st.session_state.get(f"setting_{f.name}", getattr(current, f.name)) for f in fields(LabSettings)}
    new = LabSettings(**values)
    if new != current:
        save_settings(new)
    st.session_state.settings = new


def draw_sidebar() -> LabSettings:
    """Draw the shared sidebar (app.py, once per run) and return the current settings."""
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    for name, value in asdict(st.session_state.settings).items():
        st.session_state.setdefault(f"setting_{name}", value)
    keep = {"on_change": _store_settings}
    with st.sidebar:
        st.header("Settings")
        st.selectbox("Dataset", list_datasets(), key="setting_dataset", format_func=dataset_title, **keep)
        folder_help = "The dataset folder or its parent. For 'Your own image folder': the folder with one subfolder per class (or train/ and test/)."
        st.text_input("Dataset folder", key="setting_dataset_root", help=folder_help, **keep)
        st.text_input("Split file (optional)", key="setting_split_file", help="CoOp-format JSON {train, val, test}: replaces the splits.", **keep)
        st.text_input("CLIP model (open_clip name)", key="setting_model", **keep)
        st.text_input("Weights (tag or local file)", key="setting_pretrained", help="e.g. openai, laion2b_s34b_b79k, or /path/to/model.bin", **keep)
        st.selectbox("Device", list(DEVICES), key="setting_device", **keep)
        st.text_input("Cache folder", key="setting_cache_root", placeholder=str(st.session_state.settings.cache_path()), **keep)
        st.number_input("Seeds", 1, MAX_SEEDS, key="setting_seeds", **keep)
        executor_ui(keep)
        with st.expander("Glossary"):  # the lab's words, reachable from every page
            from fewshot_core.glossary import glossary_markdown

            st.markdown(glossary_markdown())
    return st.session_state.settings


def executor_ui(keep: dict) -> None:
    """Where jobs run: this machine, or Ray (a local instance or a cluster); see README "Scaling out"."""
    help_text = "local: jobs run here. ray: sweep units as Ray tasks and extraction through Ray Data (pip install 'fewshot-lab[ray]')."
    st.selectbox("Executor", EXECUTORS, key="setting_executor", help=help_text, **keep)
    ray_chosen = st.session_state.get("setting_executor") == "ray"
    st.text_input(
        "Ray address",
        key="setting_ray_address",
        placeholder="empty: start a local Ray instance",
        help="ray://head:10001, head:6379 or auto (a cluster whose workers have fewshot-lab installed).",
        disabled=not ray_chosen,
        **keep,
    )
    if ray_chosen and importlib.util.find_spec("ray") is None:
        st.warning("Ray is not installed here: pip install 'fewshot-lab[ray]', or choose the local executor.")


def settings() -> LabSettings:
    """The settings the sidebar holds (pages call this; app.py drew the sidebar before them)."""
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    return st.session_state.settings


def job_registry() -> JobRegistry:
    """The job folders of the current cache (stateless: jobs live in their own processes)."""
    return JobRegistry(settings().cache_path())


def dataset_spec(s: LabSettings, dataset: str | None = None) -> DatasetSpec:
    """The sidebar's dataset, folder and split file (``dataset``: another name, e.g. synthetic, with them)."""
    return DatasetSpec(dataset or s.dataset, s.dataset_root or None, s.split_path())


def executor_spec(s: LabSettings) -> ExecutorSpec:
    """The sidebar's executor (a Ray address only with Ray)."""
    return ExecutorSpec(s.executor, (s.ray_address.strip() or None) if s.executor == "ray" else None)


def backbone_spec(s: LabSettings, dataset: str | None = None) -> BackboneConfig:
    """The sidebar's CLIP and device, as the CLI makes it from the same model and weights (``resolve_backbone``)."""
    return resolve_backbone(dataset or s.dataset, model=s.model, pretrained=s.pretrained, device=s.device)


def cache_folder(s: LabSettings) -> str:
    """The sidebar's cache folder, as a job spec names it."""
    return str(s.cache_path())


def _duration(seconds: float) -> str:
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
        extra = f" · {_duration(time.time() - job.started)} elapsed" + (f" · about {_duration(eta)} left" if eta is not None else "")
        st.progress(min(1.0, done / total) if total else 0.0, text=f"{what}: {escape_markdown(message)}{extra}")
        if st.button(f"Cancel {what.lower()}", key=f"cancel-{job.name}"):
            start = time.monotonic()
            ended = job.cancel()
            st.info(f"Cancelled in {time.monotonic() - start:.1f} s; finished work is kept." if ended else "Cancelling…")
    elif status == "failed":
        from app_words import for_app  # the job's CLI message, in the app's words (the sidebar, not --root)

        st.error(f"{what} failed: {escape_markdown(for_app(job.error))}")
    elif status == "cancelled":
        st.warning(f"{what} was cancelled; finished work is kept (start it again to continue).")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()<>~$|!#])")


def escape_markdown(text: str) -> str:
    """User text made inert for st.warning/st.error/st.caption (which render Markdown): no links, images,
    HTML, code, colour directives or formulas; the characters themselves still show."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return text.replace("://", ":\\/\\/").replace("www.", "www\\.")  # bare URLs would otherwise become links


def openai_key() -> str | None:
    """OPENAI_API_KEY from the environment or Streamlit secrets (read, never stored or shown)."""
    if os.environ.get("OPENAI_API_KEY"):
        return os.environ["OPENAI_API_KEY"]
    try:
        return st.secrets.get("OPENAI_API_KEY")
    except Exception:  # noqa: BLE001 - no secrets file is the normal case
        return None


def default_source(dataset: str) -> str:
    """The description source to offer first: openai only with a key; the demo's attributes; else the local LLM."""
    if openai_key():
        return "openai"
    return "attributes" if dataset == "demo" else "local"
