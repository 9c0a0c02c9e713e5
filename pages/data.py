"""Data page: find or download the dataset, see what is ready, browse classes, encode features."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_sidebar import cached_backbone, escape_markdown, job_registry, page_settings, show_job
from fewshot_core import FewShotError
from fewshot_core.datasets import dataset_title, load_dataset
from fewshot_core.datasets.download import ARCHIVES, download_dataset, downloadable_datasets
from fewshot_core.datasets.images import load_rgb
from fewshot_core.datasets.verify import verify_dataset

s = page_settings()
st.title(f"Data · {dataset_title(s.dataset)}")
registry = job_registry()

if s.dataset == "demo":
    st.caption("The demo is generated on this machine from a fixed seed (nothing to download), under the cache folder unless a folder is set.")
elif s.dataset in downloadable_datasets():
    with st.expander("Download the official archives", expanded=not s.dataset_root and s.dataset != "demo"):
        target = st.text_input("Download into", str(Path.home() / "fewshot-data" / s.dataset))
        st.caption(" · ".join(a.url for a in ARCHIVES.get(s.dataset, [])) or "Downloaded by torchvision's own code.")
        if st.button("Download"):
            registry.start(
                f"download-{s.dataset}", lambda on_progress, should_cancel: download_dataset(s.dataset, target, on_progress, should_cancel)
            )

        @st.fragment(run_every=1.0)
        def download_progress() -> None:
            job = registry.get(f"download-{s.dataset}")
            show_job(job, "Download")
            if job is not None and job.status == "finished":
                st.success(f"Downloaded to {escape_markdown(job.result)}: set it as the dataset folder in the sidebar.")

        download_progress()


if not s.dataset_root and s.dataset != "demo":
    st.info("Set the dataset folder in the sidebar, or download it above (or with `python -m fewshot_core download --dataset ... --root DIR`).")
    st.stop()


@st.cache_data(show_spinner="Reading the dataset…")
def _report(name: str, root: str | None, split_file: str | None) -> dict:
    return verify_dataset(name, root, check_images=False, split_file=split_file)


try:
    report = _report(s.dataset, s.dataset_root or None, s.split_path())
    dataset = load_dataset(s.dataset, s.dataset_root or None, s.split_path())
except FewShotError as e:
    st.error(escape_markdown(str(e)))
    st.stop()

cols = st.columns(4)
cols[0].metric("Classes", report["num_classes"])
cols[1].metric("Train images", report["num_train"])
cols[2].metric("Test images", report["num_test"])
cols[3].metric("Class attributes", "yes" if report["has_attributes"] else "no")
if report["num_val"]:
    st.caption(f"Validation: the dataset's own list of {report['num_val']} images (used instead of a draw from train).")
for note in report["notes"]:
    st.caption(note)
if report["matches_official_counts"] is False:
    st.warning("The counts differ from the official release; results will not be comparable to the paper.")
if report["missing_images"]:
    st.warning(f"{len(report['missing_images'])} listed images are missing, e.g. {escape_markdown(report['missing_images'][:3])}")

st.subheader("CLIP features")
st.caption(
    f"{s.model} · {s.pretrained or 'random weights'} · device {s.device}. Encoded once, then read from the cache ({s.cache_path() / 'features'})."
)


def encode(on_progress, should_cancel, backbone):
    from fewshot_core.features import FeatureCache, image_features

    cache = FeatureCache(s.cache_path())
    return {
        split: len(image_features(cache, backbone, dataset, split, on_progress=on_progress, should_cancel=should_cancel).unreadable)
        for split in dataset.splits
    }


if st.button("Encode features"):
    try:
        backbone = cached_backbone(s.model, s.pretrained, s.device)
        registry.start("features", lambda on_progress, should_cancel: encode(on_progress, should_cancel, backbone))
    except FewShotError as e:
        st.error(escape_markdown(str(e)))


@st.fragment(run_every=1.0)
def feature_progress() -> None:
    job = registry.get("features")
    show_job(job, "Encoding")
    if job is not None and job.status == "finished":
        st.success(f"Features ready (unreadable images skipped: {job.result}).")


feature_progress()

st.subheader("Classes")
c = st.selectbox("Class", range(dataset.num_classes), format_func=lambda i: f"{dataset.display_names[i]} ({dataset.class_names[i]})")
train = dataset.split("train")
paths = [p for p, y in zip(train.paths, train.labels) if y == c][:6]
images = st.columns(6)
for col, path in zip(images, paths):
    try:
        col.image(load_rgb(path), caption=path.name, width="stretch")
    except Exception:  # noqa: BLE001 - an unreadable image is listed, never fatal
        col.caption(f"{path.name}: unreadable")
