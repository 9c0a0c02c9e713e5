"""The sidebar settings every page shares: dataset, CLIP, device, cache, seeds.

Each page calls ``page_settings()`` first. Pages therefore work both under ``app.py``'s router and
when Streamlit runs a ``pages/`` file on its own (its legacy multipage mode does that for a first
request to a page URL). Values live in session state and in a settings file, so they survive page
switches and a browser refresh.
"""

from __future__ import annotations

from dataclasses import asdict, fields

import streamlit as st

from fewshot_core.datasets import dataset_title, list_datasets
from fewshot_core.settings import LabSettings, load_settings, save_settings

DEVICES = ["auto", "cpu", "cuda", "mps"]


def page_settings() -> LabSettings:
    """Draw the sidebar and return the current settings (saved to disk when they change)."""
    if "settings" not in st.session_state:
        st.session_state.settings = load_settings()
    for name, value in asdict(st.session_state.settings).items():
        st.session_state.setdefault(f"setting_{name}", value)  # re-seed keys Streamlit dropped
    with st.sidebar:
        st.header("Settings")
        st.selectbox("Dataset", list_datasets(), key="setting_dataset", format_func=dataset_title)
        st.text_input("Dataset folder", key="setting_dataset_root", help="The dataset folder or its parent.")
        st.text_input("CLIP model (open_clip name)", key="setting_model")
        st.text_input("Weights (tag or local file)", key="setting_pretrained", help="e.g. openai, laion2b_s34b_b79k, or /path/to/model.bin")
        st.selectbox("Device", DEVICES, key="setting_device")
        st.text_input("Cache folder", key="setting_cache_root", placeholder=str(st.session_state.settings.cache_path()))
        st.number_input("Seeds", 1, 20, key="setting_seeds")
    settings = LabSettings(**{f.name: st.session_state[f"setting_{f.name}"] for f in fields(LabSettings)})
    if settings != st.session_state.settings:
        save_settings(settings)
    st.session_state.settings = settings
    return settings
