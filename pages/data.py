"""Data page: the four steps, find or download the dataset, see what is ready, browse classes, encode features."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_sidebar import backbone_args, dataset_args, escape_markdown, executor_args, job_registry, settings, show_job, steps_overview
from fewshot_core import FewShotError
from fewshot_core.datasets import dataset_title, load_dataset
from fewshot_core.datasets.download import ARCHIVES, downloadable_datasets
from fewshot_core.datasets.images import load_rgb
from fewshot_core.datasets.verify import verify_dataset


@st.cache_data(show_spinner="Reading the dataset…")
def _report(name: str, root: str | None, split_file: str | None) -> dict:
    return verify_dataset(name, root, check_images=False, split_file=split_file)


def download_ui(s) -> None:
    """The official archives: a download job (kept running across page switches and restarts)."""
    registry = job_registry()
    with st.expander("Download the official archives", expanded=not s.dataset_root):
        target = st.text_input("Download into", str(Path.home() / "fewshot-data" / s.dataset))
        st.caption(" · ".join(a.url for a in ARCHIVES.get(s.dataset, [])) or "Downloaded by torchvision's own code.")
        if st.button("Download"):
            try:
                registry.start("download", ["download", "--dataset", s.dataset, "--root", target], {"target": target}, slot=s.dataset)
            except FewShotError as e:
                st.error(escape_markdown(str(e)))

        @st.fragment(run_every=1.0)
        def download_progress() -> None:
            job = registry.get("download", s.dataset)
            show_job(job, "Download")
            if job is not None and job.status == "finished" and job.result:
                st.success(f"Downloaded to {escape_markdown(job.result.get('root', ''))}: set it as the dataset folder in the sidebar.")

        download_progress()


def dataset_report_ui(report: dict) -> None:
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


def features_ui(s, dataset) -> None:
    """Whether features are cached, and an encode job (a separate process: CLIP never loads in the server)."""
    from fewshot_core.feature_status import cached_splits

    st.subheader("CLIP features")
    cached = cached_splits(s.cache_path(), dataset, s.model, s.pretrained)
    ready = [k for k, v in cached.items() if v]
    state = "all cached" if len(ready) == len(cached) else (f"cached: {', '.join(ready)}; not yet: " if ready else "not cached yet: ")
    state += ", ".join(k for k, v in cached.items() if not v)
    st.caption(
        f"{s.model} · {s.pretrained or 'random weights'} · device {s.device}. Features {state} "
        f"(encoded once, then read from the cache {s.cache_path() / 'features'}; Train encodes what is missing)."
    )
    registry = job_registry()
    if st.button("Encode features", disabled=len(ready) == len(cached)):
        try:
            argv = ["features", *dataset_args(s), *backbone_args(s), *executor_args(s)]
            registry.start("features", argv, {"dataset": s.dataset, "model": s.model, "executor": s.executor})
        except FewShotError as e:
            st.error(escape_markdown(str(e)))

    @st.fragment(run_every=1.0)
    def feature_progress() -> None:
        job = registry.get("features")
        show_job(job, "Encoding")
        if job is not None and job.status == "finished" and job.result:
            unreadable = {k: v["unreadable"] for k, v in job.result.items() if isinstance(v, dict) and "unreadable" in v}
            st.success(f"Features ready (unreadable images skipped: {unreadable}).")

    feature_progress()


def classes_ui(dataset) -> None:
    st.subheader("Classes")
    c = st.selectbox("Class", range(dataset.num_classes), format_func=lambda i: f"{dataset.display_names[i]} ({dataset.class_names[i]})")
    train = dataset.split("train")
    paths = [p for p, y in zip(train.paths, train.labels) if y == c][:6]
    for col, path in zip(st.columns(6), paths):
        try:
            col.image(load_rgb(path), caption=path.name, width="stretch")
        except Exception:  # noqa: BLE001 - an unreadable image is listed, never fatal
            col.caption(f"{path.name}: unreadable")


def page() -> None:
    s = settings()
    st.title(f"Data · {dataset_title(s.dataset)}")
    steps_overview(s)
    if s.dataset == "demo":
        st.caption("The demo is generated on this machine from a fixed seed (nothing to download), under the cache folder unless a folder is set.")
    elif s.dataset in downloadable_datasets():
        download_ui(s)
    if not s.dataset_root and s.dataset != "demo":
        st.info("Set the dataset folder in the sidebar, or download it above (or with `python -m fewshot_core download --dataset ... --root DIR`).")
        return
    try:
        report = _report(s.dataset, s.dataset_root or None, s.split_path())
        dataset = load_dataset(s.dataset, s.dataset_root or None, s.split_path())
    except FewShotError as e:
        st.error(escape_markdown(str(e)))
        return
    dataset_report_ui(report)
    features_ui(s, dataset)
    classes_ui(dataset)


if __name__ == "__main__":  # Streamlit ran this file alone (its legacy pages/ mode): go through the router
    from app_router import main

    main()
