"""Data page: the four steps, find or download the dataset, see what is ready, browse classes, encode features."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fewshot_app.context import backbone_spec, cache_folder, dataset_spec, executor_spec, job_registry, settings
from fewshot_app.router import page_link
from fewshot_app.state import follow_job
from fewshot_app.widgets import escape_markdown, show_job
from fewshot_app.words import count, for_app, unreadable_words
from fewshot_core import FewShotError
from fewshot_core.datasets import dataset_info, dataset_title, is_generated, load_dataset
from fewshot_core.datasets.download import downloadable_datasets
from fewshot_core.datasets.images import load_rgb
from fewshot_core.datasets.verify import verify_dataset
from fewshot_core.jobspec import DatasetSpec, DownloadSpec, FeaturesSpec


@st.cache_data(show_spinner="Reading the dataset…")
def _report(name: str, root: str | None, split_file: str | None, stamp: int) -> dict:
    """The dataset's counts (``stamp``: the folder's modification time, so a changed folder is read again)."""
    return verify_dataset(name, root, check_images=False, split_file=split_file)


def _folder_stamp(root: str | None) -> int:
    try:
        return Path(root).expanduser().stat().st_mtime_ns if root else 0
    except OSError:
        return 0


def download_ui(s) -> None:
    """The official archives: a download job (kept running across page switches and restarts)."""
    registry = job_registry()
    with st.expander("Download the official archives", expanded=not s.dataset_root):
        target = st.text_input("Download into", str(Path.home() / "fewshot-data" / s.dataset))
        st.caption(" · ".join(a.url for a in dataset_info(s.dataset).archives) or "Downloaded by torchvision's own code.")
        if st.button("Download"):
            try:
                registry.start("download", DownloadSpec(DatasetSpec(s.dataset, target)), slot=s.dataset)
            except FewShotError as e:
                st.error(escape_markdown(str(e)))

        def download_progress(job) -> None:
            show_job(job, "Download")
            if job is not None and job.status == "finished" and job.result:
                st.success(f"Downloaded to {escape_markdown(job.result.get('root', ''))}: choose it as the Dataset folder in the sidebar.")

        follow_job(registry, "download", download_progress, slot=s.dataset)


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


def features_spec(s) -> FeaturesSpec:
    """The encode job of the sidebar's dataset, CLIP, cache and executor."""
    return FeaturesSpec(dataset_spec(s), backbone_spec(s), cache_folder(s), executor=executor_spec(s))


def features_ui(s, dataset) -> None:
    """Whether features are cached, and an encode job (a separate process: CLIP never loads in the server).

    The status is read from the cache on every page run, and the page reruns when an encoding job ends
    (``follow_job``), so the status, the job's outcome and the button always agree.
    """
    from fewshot_core.feature_status import cached_splits

    st.subheader("CLIP features")
    cached = cached_splits(s.layout(), dataset, s.model, s.pretrained)
    ready = [k for k, v in cached.items() if v]
    missing = [k for k, v in cached.items() if not v]
    state = "all cached" if not missing else (f"cached: {', '.join(ready)}; not yet: " if ready else "not cached yet: ") + ", ".join(missing)
    st.caption(
        f"{s.model} · {s.pretrained or 'random weights'} · device {s.device}. Features {state} "
        f"(encoded once, then read from the cache {s.layout().features}; Train encodes what is missing)."
    )
    registry = job_registry()
    job = registry.get("features")
    running = job is not None and job.running
    label = "Features cached" if not missing else ("Encoding…" if running else "Encode features")
    if st.button(label, disabled=not missing or running, help="Nothing to encode: every split is in the cache." if not missing else None):
        try:
            registry.start("features", features_spec(s))
        except FewShotError as e:
            st.error(escape_markdown(for_app(str(e))))

    def feature_progress(job) -> None:
        show_job(job, "Encoding")
        spec = job.spec if job is not None else None
        mine = isinstance(spec, FeaturesSpec) and spec.dataset.name == s.dataset and spec.backbone is not None and spec.backbone.model == s.model
        if mine and job.status == "finished" and job.result and not missing:
            st.success(f"Features ready ({unreadable_words(job.result)}).")

    follow_job(registry, "features", feature_progress)


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


def steps_overview(s, data_state: str) -> None:
    """The four steps (data, descriptions, train, results), each with its status and a link."""
    from fewshot_core.descriptions.store import DescriptionStore
    from fewshot_core.runs import list_runs

    cache = s.cache_path()
    sets = DescriptionStore(cache).list(s.dataset)
    runs = [r for r in list_runs(cache) if r["config"].get("dataset") in (s.dataset, "synthetic")]
    train = job_registry().get("train")
    training = train is not None and train.running
    steps = [
        ("data", "1 · Data", data_state),
        ("descriptions", "2 · Descriptions", count(len(sets), "set") if sets else "none yet"),
        ("train", "3 · Train", "running" if training else (count(len(runs), "run") if runs else "not yet")),
        ("results", "4 · Results", "partial results while training" if training else ("ready" if runs else "after training")),
    ]
    for col, (url, label, state) in zip(st.columns(4), steps):
        with col:
            page_link(url, label)
            st.caption(state)


def read_dataset(s) -> tuple[dict | None, object | None, str, str | None]:
    """(report, dataset, step-1 status, error): a dataset is ready only when it loads and has training images."""
    if not s.dataset_root and not is_generated(s.dataset):
        return None, None, "choose the dataset folder", None
    try:
        report = _report(s.dataset, s.dataset_folder(), s.split_path(), _folder_stamp(s.dataset_root))
        dataset = load_dataset(s.dataset, s.dataset_folder(), s.split_path())
    except FewShotError as e:
        return None, None, "not usable yet (see below)", for_app(str(e))
    if not report["num_train"]:
        return report, dataset, "no training images", "The dataset has no training images: choose a folder with images in the sidebar."
    return report, dataset, f"ready: {report['num_classes']} classes, {report['num_train']} training images", None


def page() -> None:
    s = settings()
    st.title(f"Data · {dataset_title(s.dataset)}")
    report, dataset, data_state, error = read_dataset(s)
    steps_overview(s, data_state)
    if is_generated(s.dataset):
        st.caption(
            "This dataset is generated on this machine from a fixed seed (nothing to download), under the cache folder unless a folder is set."
        )
    elif s.dataset in downloadable_datasets():
        download_ui(s)
    if not s.dataset_root and not is_generated(s.dataset):
        st.info("Set the dataset folder in the sidebar, or download it above (or with `python -m fewshot_core download --dataset ... --root DIR`).")
        return
    if error is not None:
        st.error(escape_markdown(error))
        if report is None:
            return
    dataset_report_ui(report)
    if report["num_train"]:
        features_ui(s, dataset)
        classes_ui(dataset)
