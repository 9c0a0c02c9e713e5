"""Descriptions page: prompt, source, generation as a job (progress per class, cancel), judge, browse and edit."""

from __future__ import annotations

import json
import os

import streamlit as st

from app_sidebar import backbone_args, dataset_args, default_source, escape_markdown, job_registry, openai_key, settings, show_job
from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.descriptions.endpoint import APP_KEY_ENV
from fewshot_core.descriptions.json_io import import_description_bytes
from fewshot_core.descriptions.prompt import DEFAULT_PROMPT, render_prompt, validate_prompt
from fewshot_core.descriptions.sources import DATA_SOURCES, LLM_SOURCES, GenerationSettings, estimate_request_cost
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.names import set_label, write_label

SOURCES = LLM_SOURCES + DATA_SOURCES + ("json upload",)


def upload_ui(dataset, cache) -> None:
    upload = st.file_uploader('A {"class name": ["sentence", ...]} file (CuPL format)', type="json")
    if upload is None:
        return
    try:  # stored under its content hash: the client's file name never becomes a path
        report = import_description_bytes(dataset, upload.getvalue(), cache)
        st.success(f"Matched {len(report['matched'])} of {dataset.num_classes} classes.")
        if report["unmatched_keys"] or report["ambiguous_keys"]:
            st.warning(escape_markdown(f"Not assigned: unmatched {report['unmatched_keys']}, ambiguous {list(report['ambiguous_keys'])}"))
    except FewShotError as e:
        st.error(escape_markdown(str(e)))


def classes_ui(dataset) -> str | None:
    """All classes, the first N, or chosen classes: the CLI's ``--classes`` value (None = all)."""
    scope = st.radio(
        "Classes", ["all", "first N", "chosen"], horizontal=True, help="Start small on a slow CPU: the first few classes show the quality."
    )
    if scope == "first N":
        return str(st.number_input("N", 1, dataset.num_classes, min(8, dataset.num_classes)))
    if scope == "chosen":
        chosen = st.multiselect("Chosen classes", dataset.display_names, default=dataset.display_names[:1])
        return ",".join(chosen) if chosen else None
    return None


def llm_ui(source: str, dataset) -> list[str] | None:
    """Prompt and sampling settings of an LLM source, as CLI arguments (None while the prompt is invalid)."""
    prompt = st.text_area("Prompt", DEFAULT_PROMPT, help="{class_name} is replaced by each class's name; {dataset} by bird/pet.")
    c1, c2, c3, c4 = st.columns(4)
    defaults = GenerationSettings()  # the paper's settings; the local model gets shorter completions (it is slow)
    model = c1.text_input("Model", "smollm2" if source == "local" else defaults.model)
    temperature = c2.slider("Temperature", 0.0, 1.5, defaults.temperature)
    max_tokens = c3.number_input("Max tokens", 16, 4000, defaults.max_tokens if source != "local" else 160)
    samples = c4.number_input("Samples per class", 1, 10, defaults.samples)
    args = [f"--prompt={prompt}", "--model", model, "--temperature", str(temperature), "--max-tokens", str(max_tokens), "--samples", str(samples)]
    if source == "openai-compatible":  # its own key only (never OPENAI_API_KEY), plain http to this machine only
        args += ["--base-url", st.text_input("Server URL", "http://localhost:11434/v1")]
        if st.checkbox(f"Send the key in ${APP_KEY_ENV}", bool(os.environ.get(APP_KEY_ENV)), help="Set it where the app starts."):
            args += ["--api-key-env", APP_KEY_ENV]
        if st.checkbox("Allow plain http:// to another machine", help="The key and the prompts then cross the network unencrypted."):
            args += ["--allow-insecure-http"]
    if source == "local":
        batch = st.number_input(
            "Classes per generate call",
            1,
            32,
            1,
            help="1: each class shows the moment it is done. 8: about 4× the tokens per second on a 2-core CPU "
            "(README, bench_describe), but progress moves 8 classes at a time.",
        )
        args += ["--batch-size", str(batch)]
    try:
        validate_prompt(prompt)
        st.caption(f"Example: {escape_markdown(render_prompt(prompt, dataset.display_names[0], dataset.name))}")
        if source == "openai":
            prompts = [render_prompt(prompt, n, dataset.name) for n in dataset.display_names]
            cost = estimate_request_cost(model, prompts, GenerationSettings(model, temperature, int(max_tokens), int(samples)))
            st.caption(f"Estimated cost for {len(prompts)} classes: at most ${cost:.4f}" if cost is not None else "No price known for this model.")
            if not openai_key():
                st.warning("No OPENAI_API_KEY in the environment or Streamlit secrets.")
    except FewShotError as e:
        st.error(escape_markdown(str(e)))
        return None
    return args


def generation_progress(registry, source: str) -> None:
    @st.fragment(run_every=1.0)
    def progress() -> None:
        job = registry.get("describe", source)
        if job is None:
            return
        if job.params:
            st.caption(f"Job settings: {escape_markdown(json.dumps(job.params))}")
        show_job(job, "Generation", eta_step="classes")
        event = job.progress("classes")
        metrics = (event or {}).get("metrics") or {}
        if "tokens_per_s" in metrics:
            st.caption(
                f"{metrics['tokens_per_s']:.1f} completion tokens/s, {metrics['seconds_per_class']:.1f} s per class "
                f"(measured over the classes generated so far in this job)."
            )
        if job.status == "finished" and job.result:
            r = job.result
            cost = f", estimated ${r['estimated_cost_usd']:.4f}" if r.get("estimated_cost_usd") is not None else ""
            st.success(
                f"{r['classes_done']} classes, {r['descriptions']} descriptions; "
                f"{r['prompt_tokens']} prompt + {r['completion_tokens']} completion tokens{cost}."
            )

    progress()


def generate_ui(s, dataset, source: str) -> None:
    args = ["describe", *dataset_args(s), "--source", source, "--cache", str(s.cache_path())]
    if source in LLM_SOURCES:
        extra = llm_ui(source, dataset)
        classes = classes_ui(dataset)
        args = None if extra is None else args + extra + ([f"--classes={classes}"] if classes else [])
    elif source == "captions":
        args += ["--captions-root", st.text_input("Captions folder (holding text_c10/)")]
    registry = job_registry()
    if st.button("Generate", type="primary", disabled=args is None):
        key = openai_key() if source == "openai" else None  # OPENAI_API_KEY goes to api.openai.com only
        params = {"source": source, **({"model": args[args.index("--model") + 1]} if "--model" in args else {})}  # shown while it runs
        params |= dict(a[2:].split("=", 1) for a in args if a.startswith("--classes="))
        try:
            registry.start("describe", args, params, slot=source, secrets={"OPENAI_API_KEY": key} if key else None)
        except FewShotError as e:
            st.info(escape_markdown(str(e)) + " Its progress is below.")
    generation_progress(registry, source)


def judge_ui(s, dataset, dset) -> None:
    """CLIP's view of every line (a job: CLIP loads in its own process), sorting, filtering, one-click removal."""
    st.subheader("Judge the descriptions")
    registry = job_registry()
    slot = dset.path.name
    argv = ["judge-descriptions", *dataset_args(s), *backbone_args(s), "--descriptions", str(dset.path)]
    if st.button("Judge with CLIP", help="Each line's cosine to its class's training images, before and after the mean-shift translation."):
        try:
            registry.start("judge", argv, {"set": set_label(dset)}, slot=slot)
        except FewShotError as e:
            st.info(escape_markdown(str(e)))

    @st.fragment(run_every=1.0)
    def judged() -> None:
        job = registry.get("judge", slot)
        show_job(job, "Judging")
        if job is None or job.status != "finished" or not job.result:
            return
        records = job.result.get("records", [])
        flagged = [r for r in records if r["flagged"]]
        st.caption(
            f"{len(records)} lines judged, {len(flagged)} flagged (nearer another class's training images than their own, after the "
            "mean-shift translation). cos = cosine to the own class's image centroid; rank 1 = own class nearest."
        )
        f1, f2 = st.columns(2)
        only = f1.toggle("Only flagged", value=bool(flagged), key=f"only-{slot}")
        order = f2.selectbox("Sort by", ["cos_translated", "cos_raw", "rank", "class"], key=f"order-{slot}")
        shown = sorted((r for r in records if r["flagged"] or not only), key=lambda r: r[order], reverse=order == "rank")
        st.dataframe(
            shown, width="stretch", hide_index=True, column_order=["class", "text", "cos_raw", "cos_translated", "rank", "nearest_other", "flagged"]
        )
        b1, b2 = st.columns(2)
        if flagged and b1.button(f"Remove the {len(flagged)} flagged lines", key=f"remove-{slot}"):
            for c in {r["class_index"] for r in flagged}:
                dset.edit(c, delete=[r["text"] for r in flagged if r["class_index"] == c])
            st.success("Removed (kept as your edits: 'Restore' brings them back).")
        if flagged and b2.button("Restore them", key=f"restore-{slot}"):
            for c in {r["class_index"] for r in flagged}:
                dset.restore(c, [r["text"] for r in flagged if r["class_index"] == c])
            st.success("Restored.")

    judged()


def browse_ui(dataset, cache) -> None:
    st.subheader("Browse and edit")
    sets = DescriptionStore(cache).list(dataset.name)
    if not sets:
        st.info("Nothing generated yet.")
        return
    # Labels must not change while a job fills the set, or the selection would reset: counts go in the caption.
    dset = st.selectbox("Description set", sets, format_func=set_label)
    with st.popover("Rename this set"):
        new = st.text_input("Name", set_label(dset), key=f"name-{dset.path.name}")
        if st.button("Save name"):
            write_label(dset.path, new)
            st.rerun()
    usage = dset.usage()
    st.caption(
        f"{len(dset.done_classes())} of {dataset.num_classes} classes done. Tokens used: {usage.prompt_tokens} prompt, "
        f"{usage.completion_tokens} completion. Settings: {escape_markdown(json.dumps(dset.meta['settings']))}"
    )
    query = st.text_input("Search classes")
    classes = [c for c in range(dataset.num_classes) if query.lower() in dataset.display_names[c].lower()]
    if classes:
        c = st.selectbox("Class", classes, format_func=lambda c: dataset.display_names[c])
        lines = dset.lines(c)
        edited = st.data_editor({"description": lines}, num_rows="dynamic", width="stretch", key=f"edit-{dset.path.name}-{c}")
        new = [line for line in edited["description"] if line and line.strip()]
        if new != lines and st.button("Save edits"):
            dset.edit(c, add=[x for x in new if x not in lines], delete=[x for x in lines if x not in new])
            st.success("Saved (kept apart from the generated text).")
            st.rerun()
        with st.expander("Raw completion"):
            st.text("\n\n".join(dset.record(c)["raw"]) or "(from annotations)")
    judge_ui(settings(), dataset, dset)
    st.download_button(
        "Download JSON",
        json.dumps(dset.export(dataset.display_names), indent=2, ensure_ascii=False),
        f"{dataset.name}-descriptions.json",
        "application/json",
    )


def page() -> None:
    s = settings()
    st.title("Descriptions")
    cache = s.cache_path()
    if not (s.dataset_root or s.dataset == "demo"):
        st.info("Set the dataset folder in the sidebar first (Data page).")
        return
    try:
        dataset = load_dataset(s.dataset, s.dataset_root or None, s.split_path())
    except FewShotError as e:
        st.error(escape_markdown(str(e)))
        return
    source = st.selectbox(
        "Source",
        SOURCES,
        index=SOURCES.index(default_source(s.dataset)),
        help="local = SmolLM2-135M-Instruct, offline, no key; attributes = sentences from the dataset's class attributes; openai needs a key.",
    )
    if source == "json upload":
        upload_ui(dataset, cache)
    else:
        generate_ui(s, dataset, source)
    browse_ui(dataset, cache)


if __name__ == "__main__":  # Streamlit ran this file alone (its legacy pages/ mode): go through the router
    from app_router import main

    main()
