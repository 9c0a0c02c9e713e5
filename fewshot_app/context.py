"""What a page needs from the shared settings: the settings themselves, the job registry of their cache, and the
dataset, CLIP, executor and cache of a job spec made from them; the OpenAI key and the first description source."""

from __future__ import annotations

import os

import streamlit as st

from fewshot_app.jobs import JobRegistry
from fewshot_core.config import BackboneConfig
from fewshot_core.datasets import dataset_info
from fewshot_core.jobspec import DatasetSpec, ExecutorSpec, resolve_backbone
from fewshot_core.settings import LabSettings, load_settings


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


def openai_key() -> str | None:
    """OPENAI_API_KEY from the environment or Streamlit secrets (read, never stored or shown)."""
    if os.environ.get("OPENAI_API_KEY"):
        return os.environ["OPENAI_API_KEY"]
    try:
        return st.secrets.get("OPENAI_API_KEY")
    except Exception:  # noqa: BLE001 - no secrets file is the normal case
        return None


def default_source(dataset: str) -> str:
    """The description source to offer first: openai only with a key; else the dataset's offline source (the demo's
    attributes), or the local LLM."""
    if openai_key():
        return "openai"
    return dataset_info(dataset).offline_source or "local"
