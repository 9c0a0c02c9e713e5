"""The shared sidebar: the settings every page uses, drawn once per run by the router, before the page.

The settings object in session state (and the file behind it, ``<cache>/app_settings.json``) is the truth.
The sidebar's widgets never leave the script, so they keep their values across page switches; their keys
are seeded from the settings only when missing (a new session). Pages read the settings through
``context.settings()``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, fields

import streamlit as st

from fewshot_core.datasets import dataset_title, list_datasets
from fewshot_core.executors import EXECUTORS
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
