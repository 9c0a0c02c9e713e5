"""Train page: choose shots, texts, seeds and protocol; train in the background; see Table 1."""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from app_sidebar import cached_backbone, escape_markdown, job_registry, page_settings, show_job
from fewshot_core import FewShotError
from fewshot_core.adapter import AdapterConfig
from fewshot_core.backbone import BackboneConfig
from fewshot_core.bundle import build_bundle, default_run_dir
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.qformer import LOSSES, QFormerTrainConfig, list_qformer_configs
from fewshot_core.report import format_table1, table1
from fewshot_core.sweep import PROTOCOLS, SweepConfig, run_sweep
from fewshot_core.translations import TRANSLATIONS

DEFAULTS, TRAIN_DEFAULTS, ADAPTER_DEFAULTS = SweepConfig(), QFormerTrainConfig(), AdapterConfig()
SHOTS = DEFAULTS.shots
TEXTS = DEFAULTS.text_counts

s = page_settings()
st.title("Train")
cache = s.cache_path()

source = st.radio(
    "Features",
    ["configured dataset", "synthetic (CUB-sized, no download)"],
    horizontal=True,
    help="Synthetic features need no dataset, CLIP weights or descriptions.",
)
dataset = "synthetic" if source.startswith("synthetic") else s.dataset
descriptions = None
if dataset != "synthetic":
    sets = DescriptionStore(cache).list(s.dataset)
    if not s.dataset_root and s.dataset != "demo":
        st.warning("Set the dataset folder in the sidebar (Data page), or train on synthetic features.")
    if not sets:
        st.warning("No descriptions for this dataset yet: generate or import them on the Descriptions page.")
    else:
        label = lambda d: f"{d.meta['source']} · {d.meta['settings'].get('model', '')} · {d.path.name}"  # noqa: E731 - stable while a job fills it
        descriptions = st.selectbox("Descriptions", sets, format_func=label).path

c1, c2 = st.columns(2)
shots = c1.multiselect("Shots per class", SHOTS, default=SHOTS)
texts = c2.multiselect("Texts per class (0 = image only)", TEXTS, default=TEXTS)
protocol = st.radio(
    "Translator training images",
    PROTOCOLS,
    index=PROTOCOLS.index(DEFAULTS.protocol),
    horizontal=True,
    help="support: only the k-shot images of each shot count and seed (strict few-shot, the default); "
    "train-split: every training image except validation (as the paper).",
)
if protocol == "train-split":
    st.caption(
        "train-split: the Q-Former is trained on N labelled images per class (every training image but validation, "
        "at every shot count; N is shown when the run finishes and kept in its config.json): not a few-shot result."
    )
translations = st.multiselect("Translations (texts into image features)", TRANSLATIONS, default=DEFAULTS.translations)
with st.expander("Q-Former and adapter settings"):
    q1, q2, q3 = st.columns(3)
    q_size = q1.selectbox("Q-Former size", list_qformer_configs(), index=list_qformer_configs().index(DEFAULTS.qformer_size))
    q_loss = q2.selectbox("Q-Former loss", LOSSES, index=LOSSES.index(TRAIN_DEFAULTS.loss))
    q_epochs = q3.number_input("Q-Former epochs", 1, 200, TRAIN_DEFAULTS.epochs)
    a1, a2, a3, a4 = st.columns(4)
    a_lr = a1.number_input("Adapter lr", 1e-5, 1.0, ADAPTER_DEFAULTS.lr, format="%.4f")
    a_steps = a2.number_input("Adapter steps", 1, 5000, ADAPTER_DEFAULTS.steps)
    a_wd = a3.number_input("Decay toward zero-shot", 0.0, 1000.0, ADAPTER_DEFAULTS.weight_decay)
    a_bs = a4.number_input("Batch size", 8, 4096, ADAPTER_DEFAULTS.batch_size)

cfg = SweepConfig(
    shots=sorted(shots),
    text_counts=sorted(texts),
    seeds=list(range(s.seeds)),
    translations=list(translations),
    protocol=protocol,
    qformer_size=q_size,
    qformer_train=QFormerTrainConfig(loss=q_loss, epochs=int(q_epochs)),
    adapter=AdapterConfig(lr=a_lr, steps=int(a_steps), weight_decay=a_wd, batch_size=int(a_bs)),
    device=s.device,
)
registry = job_registry()


def work(on_progress, should_cancel, backbone=None):
    backbone_cfg = BackboneConfig(s.model, s.pretrained, device=s.device)
    root = s.dataset_root or None
    bundle = build_bundle(dataset, root, backbone_cfg, descriptions, cache, on_progress=on_progress, backbone=backbone, split_file=s.split_path())
    run_dir = default_run_dir(cache, bundle, cfg)
    run_sweep(bundle, cfg, run_dir, qformer_cache=cache, on_progress=on_progress, should_cancel=should_cancel)
    return str(run_dir)


ready = bool(shots) and bool(texts) and (dataset == "synthetic" or (descriptions is not None and (s.dataset_root or dataset == "demo")))
if st.button("Train", type="primary", disabled=not ready):
    try:
        backbone = None if dataset == "synthetic" else cached_backbone(s.model, s.pretrained, s.device)
        job, started = registry.start("train", lambda on_progress, should_cancel: work(on_progress, should_cancel, backbone))
        if not started:
            st.info("A training job is already running; showing its progress.")
    except FewShotError as e:
        st.error(escape_markdown(str(e)))


@st.fragment(run_every=1.0)
def progress() -> None:
    job = registry.get("train")
    show_job(job, "Training")
    losses = [float(m.rsplit("loss ", 1)[1]) for _, _, m in (job.history if job else []) if m.startswith("Q-Former epoch")]
    if losses:
        st.line_chart({"Q-Former loss": losses}, x_label="epoch", height=200)
    if job is not None and job.status == "finished":
        from fewshot_core.runs import RunFolder
        from fewshot_core.storage import read_json

        run = RunFolder(job.result)
        results, config = run.results(), read_json(run.path / "config.json")
        st.success(f"Done: {len(results)} results in {job.result}. See them on the Results page.")
        st.code(format_table1(table1(results), config.get("qformer_images_per_class")), language=None)


progress()
st.caption(f"Settings recorded with the run: {asdict(cfg)}")
