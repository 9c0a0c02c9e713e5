"""Train page: choose shots, texts and settings; measure a time estimate; train as a job; see Table 1."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from fewshot_app.context import backbone_spec, cache_folder, dataset_spec, executor_spec, job_registry, settings
from fewshot_app.state import follow_job, set_coverage
from fewshot_app.widgets import duration, escape_markdown, show_job
from fewshot_app.words import for_app
from fewshot_core import FewShotError
from fewshot_core.adapter import AdapterConfig
from fewshot_core.config import OPT_IN_METHODS
from fewshot_core.datasets import dataset_info
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.jobspec import DatasetSpec, EstimateSpec, ReproduceSpec, resolve_backbone
from fewshot_core.names import name_some, set_label
from fewshot_core.qformer import LOSSES, QFormerTrainConfig, list_qformer_configs
from fewshot_core.report import format_table1, table1
from fewshot_core.summary import pruned_with
from fewshot_core.sweep import PROTOCOLS, SweepConfig
from fewshot_core.translations import TRANSLATIONS, translation

GRID = SweepConfig()  # the paper's grid and every default come from the config dataclasses
SYNTHETIC = "synthetic (CUB-sized, no download)"


def grid_slider(label: str, grid: list[int], help: str) -> list[int]:
    """A range slider over the paper's grid: every grid value between the two handles, listed under it."""
    grid_text = ", ".join(map(str, grid))
    low, high = st.select_slider(label, options=grid, value=(grid[0], grid[-1]), help=f"{help} The grid: {grid_text}.")
    chosen = [v for v in grid if low <= v <= high]
    st.caption(f"Trains {', '.join(map(str, chosen))} (every grid value from {low} to {high}; the grid: {grid_text}).")
    return chosen


def sweep_ui(s) -> tuple[SweepConfig, str, str | None, bool]:
    """The form: returns the sweep config, the dataset to train on, the description set folder, and whether
    the data side is usable (synthetic, or a dataset folder with a set covering every class)."""
    source = st.radio(
        "Features", ["configured dataset", SYNTHETIC], horizontal=True, help="Synthetic features need no dataset, CLIP weights or descriptions."
    )
    dataset = "synthetic" if source == SYNTHETIC else s.dataset
    descriptions, usable = None, dataset == "synthetic"
    if dataset != "synthetic":
        if not s.dataset_root and dataset_info(s.dataset).needs_root:
            st.warning("Set the dataset folder in the sidebar (Data page), or train on synthetic features.")
        else:
            descriptions, usable = descriptions_ui(s)
    shots = grid_slider("Shots per class", GRID.shots, "Labelled images per class: every value of the paper's grid in the range is trained.")
    texts = grid_slider("Texts per class (0 = image only)", GRID.text_counts, "Descriptions per class added as translated image features.")
    protocol = st.radio(
        "Translator training images",
        PROTOCOLS,
        index=list(PROTOCOLS).index(GRID.protocol),
        horizontal=True,
        help="support: only the k-shot images of each shot count and seed (strict few-shot, the default); "
        "train-split: every training image except validation (as the paper).",
    )
    if protocol == "train-split":
        st.caption(
            "train-split: the Q-Former is trained on N labelled images per class (every training image but validation, "
            "at every shot count; N is shown when the run finishes and kept in its config.json): not a few-shot result."
        )
    translations = st.multiselect(
        "Translations (texts into image features)", list(TRANSLATIONS), default=GRID.translations, format_func=lambda t: translation(t).title
    )
    q_default, a_default = QFormerTrainConfig(), AdapterConfig()
    with st.expander("Q-Former and adapter settings"):
        q1, q2, q3 = st.columns(3)
        sizes = list_qformer_configs()
        q_size = q1.selectbox("Q-Former size", sizes, index=sizes.index(GRID.qformer_size))
        q_loss = q2.selectbox("Q-Former loss", LOSSES, index=LOSSES.index(q_default.loss))
        q_epochs = q3.number_input("Q-Former epochs", 1, 200, q_default.epochs)
        a1, a2, a3, a4 = st.columns(4)
        a_lr = a1.number_input("Adapter lr", 1e-5, 1.0, a_default.lr, format="%.4f")
        a_steps = a2.number_input("Adapter steps", 1, 5000, a_default.steps)
        a_wd = a3.number_input("Decay toward zero-shot", 0.0, 1000.0, a_default.weight_decay)
        a_bs = a4.number_input("Batch size", 8, 4096, a_default.batch_size)
    tip_f = st.checkbox(
        "Also Tip-Adapter-F",
        help="Tip-Adapter with its cache keys fine-tuned (20 epochs of AdamW in every unit, the epoch, alpha and beta chosen on "
        "validation): a stronger baseline without translated text, and slower.",
    )
    cfg = SweepConfig(
        shots=shots,
        text_counts=texts,
        seeds=list(range(s.seeds)),
        translations=list(translations),
        protocol=protocol,
        qformer_size=q_size,
        qformer_train=QFormerTrainConfig(loss=q_loss, epochs=int(q_epochs)),
        adapter=AdapterConfig(lr=a_lr, steps=int(a_steps), weight_decay=a_wd, batch_size=int(a_bs)),
        device=s.device,
        methods=[*GRID.methods, *(OPT_IN_METHODS if tip_f else ())],
    )
    return cfg, dataset, descriptions, usable


@st.cache_data(show_spinner=False, ttl=60)
def _classes(name: str, root: str | None, split_file: str | None) -> tuple[list[str], list[int]] | str:
    """The dataset's class names and the classes that have training images (or the error that loading gave)."""
    from fewshot_core.datasets import load_dataset

    try:
        dataset = load_dataset(name, root, split_file)
        return list(dataset.display_names), sorted(set(dataset.split("train").labels.tolist()))
    except FewShotError as e:
        return for_app(str(e))


def descriptions_ui(s) -> tuple[str | None, bool]:
    """The description set to train with. Each shows how many classes with images it covers; the default is the
    newest that covers all of them, and a set that misses some is refused here, naming them (the sweep needs a
    description for every class it trains a translator on). Returns (the set's folder, whether Train may use it)."""
    sets = DescriptionStore(s.cache_path()).list(s.dataset)
    if not sets:
        st.warning("No descriptions for this dataset yet: generate or import them on the Descriptions page.")
        return None, False
    classes = _classes(s.dataset, s.dataset_folder(), s.split_path())
    if isinstance(classes, str):
        st.error(escape_markdown(classes))
        return None, False
    names, needed = classes
    missing = {d.path.name: sorted(set(needed) - set(set_coverage(d, len(names)))) for d in sets}
    complete = [i for i, d in enumerate(sets) if not missing[d.path.name]]
    by_name = {d.path.name: d for d in sets}
    chosen = st.selectbox(
        "Descriptions",
        list(by_name),
        index=complete[0] if complete else 0,
        format_func=lambda n: f"{set_label(by_name[n])} · {len(needed) - len(missing[n])}/{len(needed)} classes",
        help="Only a set with descriptions for every class that has training images can be trained on.",
    )
    lacking = missing[chosen]
    if lacking:
        st.error(
            f"This set has no descriptions for {len(lacking)} of the {len(needed)} classes with images: "
            f"{escape_markdown(name_some([names[c] for c in lacking]))}. Generate them on the Descriptions page"
            + (", or choose a set that covers every class." if complete else ".")
        )
        return str(by_name[chosen].path), False
    pruned = by_name[chosen].provenance()
    if pruned["pruned_by_judge"]:
        st.caption(
            f"This set was pruned by Judge with CLIP, which used up to {pruned['pruned_with_labels_per_class']} labelled training "
            "images per class: a few-shot run on it has seen more labels than its shots."
        )
    return str(by_name[chosen].path), True


def train_spec(s, cfg: SweepConfig, dataset: str, descriptions: str | None) -> ReproduceSpec:
    """The `reproduce` job of this form: the form's sweep on the sidebar's dataset, CLIP, cache and executor
    (synthetic features need no dataset folder or CLIP: of the sidebar, only the device, cache and executor)."""
    if dataset == "synthetic":
        data, backbone = DatasetSpec(dataset), resolve_backbone(dataset, device=s.device)
    else:
        data, backbone = dataset_spec(s, dataset), backbone_spec(s, dataset)
    return ReproduceSpec(data, backbone, cache_folder(s), descriptions, cfg, executor=executor_spec(s))


def estimate_ui(s, registry, cfg: SweepConfig, dataset: str, descriptions: str | None) -> None:
    """A time estimate: an `estimate` job times one unit of this grid on synthetic features of the data's size
    (in its own process, not the server's) and scales it to the grid; shown while the form asks for the same."""
    classes, per_class, texts = _data_size(s, dataset, descriptions)
    spec = EstimateSpec(cfg, classes, per_class, texts)
    job = registry.get("estimate")
    if st.button("Estimate the time", disabled=job is not None and job.running, help="Times one unit of this grid here, then scales it."):
        try:
            job = registry.start("estimate", spec)
        except FewShotError as e:
            st.error(escape_markdown(str(e)))

    def outcome(job) -> None:  # when the job ends, the page reruns (follow_job): the button is enabled again
        if job is None:
            return
        if job.running and job.spec != spec:
            st.caption("An estimate for other settings is running (its progress and Cancel below).")
        elif job.spec != spec:
            return  # an estimate for other settings than the form's: not shown
        show_job(job, "Estimate", settings=False)
        if job.status == "finished" and job.result:
            r = job.result
            st.caption(
                f"Estimated time: about {duration(r['seconds'])} for {r['units']} units and {r['qformer_trainings']} Q-Former trainings "
                f"(measured on {r['device']} by an estimate job: {r['seconds_once']:.1f} s once, {r['seconds_per_unit']:.1f} s per unit at "
                f"{max(cfg.shots)} shots, {1000 * r['seconds_per_qformer_step']:.0f} ms per Q-Former step × {r['qformer_steps']} steps "
                f"+ {r['seconds_per_qformer_once']:.1f} s per Q-Former; "
                f"synthetic features of {classes} classes × {per_class} images, {texts} texts per class; feature "
                "encoding not included" + ("; on Ray, divide by the workers running units at once)." if s.executor == "ray" else ").")
            )
        elif job.status == "finished":
            st.warning("The estimate job finished without a result; click again.")

    follow_job(registry, "estimate", outcome)


@st.cache_data(show_spinner=False, ttl=60)
def _data_size(s, dataset: str, descriptions: str | None) -> tuple[int, int, int]:
    """Classes, training images per class and descriptions per class of what will be trained (CUB sizes for synthetic)."""
    if dataset == "synthetic" or descriptions is None:
        return 200, 30, 30
    from fewshot_core.descriptions.store import DescriptionSet

    try:
        from fewshot_core.datasets.verify import verify_dataset

        report = verify_dataset(s.dataset, s.dataset_folder(), check_images=False, split_file=s.split_path())
        lines = DescriptionSet(Path(descriptions)).all_lines(report["num_classes"])
        per_text = max(1, round(sum(map(len, lines.values())) / max(1, len(lines))))
        return report["num_classes"], max(1, report["num_train"] // report["num_classes"]), per_text
    except (FewShotError, OSError, ValueError, KeyError):
        return 200, 30, 30


def start_ui(registry, spec: ReproduceSpec, ready: bool) -> None:
    """Train: starts a job; while one runs, asks first (stop it and start this one, or keep it)."""
    job = registry.get("train")
    if st.button("Train", type="primary", disabled=not ready):
        if job is not None and job.running:
            st.session_state.confirm_train = spec
        else:
            _start(registry, spec)
    pending = st.session_state.get("confirm_train")
    if pending and job is not None and job.running:
        st.warning("A training job is already running (its settings are shown above). Stop it and start this one?")
        c1, c2 = st.columns(2)
        if c1.button("Stop it and start the new one"):
            job.cancel()
            st.session_state.pop("confirm_train")
            _start(registry, pending)
        if c2.button("Keep the running job"):
            st.session_state.pop("confirm_train")
            st.rerun()
    elif pending:
        st.session_state.pop("confirm_train")


def _start(registry, spec: ReproduceSpec) -> None:
    try:
        registry.start("train", spec)
    except FewShotError as e:
        st.error(escape_markdown(str(e)))


def loss_chart_ui(job) -> None:
    """The job's Q-Former loss: one line per training against the optimizer step, the y-axis named after the loss."""
    from fewshot_core.training_plots import qformer_loss_figure, split_trainings

    events = job.events()
    if not split_trainings(events):
        return
    spec = job.spec
    loss = spec.sweep.qformer_train.loss if isinstance(spec, ReproduceSpec) else None
    st.plotly_chart(qformer_loss_figure(events, loss), width="stretch", key="qformer-loss")


def progress_ui(registry) -> None:
    def progress(job) -> None:
        if job is None:
            return
        st.caption(f"{'Running' if job.running else 'Last'} training job's settings: {escape_markdown(job.description)}")
        show_job(job, "Training", eta_step="sweep", settings=False)
        loss_chart_ui(job)
        if job.status == "finished" and job.result:
            from fewshot_core.runs import RunFolder

            run = RunFolder(str(job.result.get("run_dir", "")))
            try:
                results, config = run.results(), run.config()  # verified: a damaged unit or an edited config is not shown
            except (OSError, ValueError, FewShotError) as e:
                st.warning(f"The run folder cannot be read ({escape_markdown(str(e))}).")
                return
            if results.empty:
                st.warning(f"The job finished, but its run folder {escape_markdown(str(run.path))} holds no results.")
                return
            st.success(f"Done: {len(results)} results in {escape_markdown(str(run.path))}. See them on the Results page.")
            budget = config.get("sweep", {}).get("val_per_class")
            st.code(format_table1(table1(results), config.get("qformer_images_per_class"), budget, pruned_with(config)), language=None)

    follow_job(registry, "train", progress)


def page() -> None:
    s = settings()
    st.title("Train")
    registry = job_registry()
    progress_ui(registry)
    with st.expander("New training job", expanded=not ((job := registry.get("train")) is not None and job.running)):
        cfg, dataset, descriptions, usable = sweep_ui(s)
        ready = bool(cfg.shots) and bool(cfg.text_counts) and usable
        spec = train_spec(s, cfg, dataset, descriptions)
        try:
            spec.validate()  # what the job would refuse (e.g. texts without a translation) is refused here, before it starts
            estimate_ui(s, registry, cfg, dataset, descriptions)
        except FewShotError as e:
            st.error(escape_markdown(str(e)))
            ready = False
        start_ui(registry, spec, ready)
        st.caption(f"This form trains: {escape_markdown(spec.describe())}.")
