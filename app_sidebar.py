"""The sidebar settings every page shares: dataset, CLIP, device, cache, seeds.

Each page calls ``page_settings()`` first. Pages therefore work both under ``app.py``'s router and
when Streamlit runs a ``pages/`` file on its own (its legacy multipage mode does that for a first
request to a page URL). Values live in session state and in a settings file, so they survive page
switches and a browser refresh.
"""

from __future__ import annotations

import re
from dataclasses import asdict, fields

import streamlit as st

from fewshot_core.datasets import dataset_title, list_datasets
from fewshot_core.settings import LabSettings, load_settings, save_settings

DEVICES = ["auto", "cpu", "cuda", "mps"]


def _store_settings() -> None:
    """Widget callback (runs before the script): copy the sidebar's values into the saved settings."""
    current = st.session_state.settings
    values = {f.name: st.session_state.get(f"setting_{f.name}", getattr(current, f.name)) for f in fields(LabSettings)}
    new = LabSettings(**values)
    if new != current:
        save_settings(new)
    st.session_state.settings = new


def page_settings() -> LabSettings:
    """Draw the sidebar and return the current settings.

    The settings object in session state (and the file behind it) is the truth; widget keys are
    re-seeded from it on every run, because Streamlit resets widget state on a page switch.
    """
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    for name, value in asdict(st.session_state.settings).items():
        st.session_state[f"setting_{name}"] = value
    keep = {"on_change": _store_settings}
    with st.sidebar:
        st.header("Settings")
        st.selectbox("Dataset", list_datasets(), key="setting_dataset", format_func=dataset_title, **keep)
        folder_help = "The dataset folder or its parent. For 'Your own image folder': the folder with one subfolder per class (or train/ and test/)."
        st.text_input("Dataset folder", key="setting_dataset_root", help=folder_help, **keep)
        st.text_input("Split file (optional)", key="setting_split_file", help="CoOp-format JSON {train, val, test}: replaces the splits.", **keep)
        st.text_input("CLIP model (open_clip name)", key="setting_model", **keep)
        st.text_input("Weights (tag or local file)", key="setting_pretrained", help="e.g. openai, laion2b_s34b_b79k, or /path/to/model.bin", **keep)
        st.selectbox("Device", DEVICES, key="setting_device", **keep)
        st.text_input("Cache folder", key="setting_cache_root", placeholder=str(st.session_state.settings.cache_path()), **keep)
        st.number_input("Seeds", 1, 20, key="setting_seeds", **keep)
    return st.session_state.settings


@st.cache_resource(show_spinner="Loading CLIP (once per process)…")
def cached_backbone(model: str, pretrained: str, device: str):
    """The frozen CLIP, loaded once per server process and shared by every page and job."""
    from fewshot_core.backbone import BackboneConfig, load_backbone

    return load_backbone(BackboneConfig(model, pretrained, device=device))


@st.cache_resource
def job_registry():
    """The process-wide background job registry (survives page switches and reruns)."""
    from app_jobs import JobRegistry

    return JobRegistry()


def show_job(job, what: str) -> None:
    """Progress bar, message, cancel button and outcome of a background job."""
    if job is None:
        return
    if job.running:
        st.progress(job.fraction, text=f"{what}: {job.message}")
        if st.button(f"Cancel {what.lower()}", key=f"cancel-{job.name}"):
            job.cancel()
            st.info("Cancelling after the current step; finished work is kept.")
    elif job.status == "failed":
        st.error(f"{what} failed: {escape_markdown(job.error)}")
    elif job.status == "cancelled":
        st.warning(escape_markdown(job.error) if job.error else f"{what} was cancelled; finished work is kept.")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()<>~$|!#])")


def escape_markdown(text: str) -> str:
    """User text made inert for st.warning/st.error/st.caption (which render Markdown): no links, images,
    HTML, code, colour directives or formulas; the characters themselves still show."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return text.replace("://", ":\\/\\/").replace("www.", "www\\.")  # bare URLs would otherwise become links


def openai_key() -> str | None:
    """OPENAI_API_KEY from the environment or Streamlit secrets (read, never stored or shown)."""
    import os

    if os.environ.get("OPENAI_API_KEY"):
        return os.environ["OPENAI_API_KEY"]
    try:
        return st.secrets.get("OPENAI_API_KEY")
    except Exception:  # noqa: BLE001 - no secrets file is the normal case
        return None
