"""Data page: check the dataset folder, browse classes, encode features."""

from __future__ import annotations

import streamlit as st

from app_sidebar import page_settings
from fewshot_core import FewShotError
from fewshot_core.datasets import dataset_title
from fewshot_core.datasets.verify import verify_dataset

s = page_settings()
st.title(f"Data · {dataset_title(s.dataset)}")

if not s.dataset_root:
    st.info("Set the dataset folder in the sidebar, or download it with `python -m fewshot_core download --dataset ... --root DIR`.")
    st.stop()


@st.cache_data(show_spinner="Reading the dataset…")
def _report(name: str, root: str) -> dict:
    return verify_dataset(name, root, check_images=False)


try:
    report = _report(s.dataset, s.dataset_root)
except FewShotError as e:
    st.error(str(e))
    st.stop()

cols = st.columns(3)
cols[0].metric("Classes", report["num_classes"])
cols[1].metric("Train images", report["num_train"])
cols[2].metric("Test images", report["num_test"])
if report["matches_official_counts"] is False:
    st.warning("The counts differ from the official release; results will not be comparable to the paper.")
if report["missing_images"]:
    st.warning(f"{len(report['missing_images'])} listed images are missing, e.g. {report['missing_images'][:3]}")
st.dataframe({"class": report["class_names"], "folder": report["folder_names"]}, use_container_width=True, height=300)
