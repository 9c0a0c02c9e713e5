"""Descriptions page: prompt, source, generation with progress and cancel, browse and edit, download."""

from __future__ import annotations

import json

import streamlit as st

from app_sidebar import escape_markdown, job_registry, openai_key, page_settings, show_job
from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.descriptions.generate import DescribeRequest, describe
from fewshot_core.descriptions.json_io import import_description_bytes
from fewshot_core.descriptions.prompt import DEFAULT_PROMPT, render_prompt, validate_prompt
from fewshot_core.descriptions.sources import DATA_SOURCES, LLM_SOURCES, GenerationSettings, estimate_request_cost
from fewshot_core.descriptions.store import DescriptionStore

s = page_settings()
st.title("Descriptions")
cache = s.cache_path()
try:
    dataset = load_dataset(s.dataset, s.dataset_root or None, s.split_path()) if (s.dataset_root or s.dataset == "demo") else None
except FewShotError as e:
    st.error(escape_markdown(str(e)))
    st.stop()
if dataset is None:
    st.info("Set the dataset folder in the sidebar first (Data page).")
    st.stop()

source = st.selectbox("Source", LLM_SOURCES + DATA_SOURCES + ("json upload",), help="local = SmolLM2-135M-Instruct, offline, no key.")
if source == "json upload":
    upload = st.file_uploader('A {"class name": ["sentence", ...]} file (CuPL format)', type="json")
    if upload is not None:
        try:  # stored under its content hash: the client's file name never becomes a path
            report = import_description_bytes(dataset, upload.getvalue(), cache)
            st.success(f"Matched {len(report['matched'])} of {dataset.num_classes} classes.")
            if report["unmatched_keys"] or report["ambiguous_keys"]:
                st.warning(escape_markdown(f"Not assigned: unmatched {report['unmatched_keys']}, ambiguous {list(report['ambiguous_keys'])}"))
        except FewShotError as e:
            st.error(escape_markdown(str(e)))
else:
    request = DescribeRequest(source=source)
    if source in LLM_SOURCES:
        prompt = st.text_area("Prompt", DEFAULT_PROMPT, help="{class_name} is replaced by each class's name; {dataset} by bird/pet.")
        c1, c2, c3, c4 = st.columns(4)
        model = c1.text_input("Model", "smollm2" if source == "local" else "gpt-3.5-turbo")
        temperature = c2.slider("Temperature", 0.0, 1.5, 0.7)
        max_tokens = c3.number_input("Max tokens", 16, 4000, 400 if source != "local" else 160)
        samples = c4.number_input("Samples per class", 1, 10, 1)
        base_url = st.text_input("Server URL", "http://localhost:11434/v1") if source == "openai-compatible" else None
        request = DescribeRequest(source, prompt, GenerationSettings(model, temperature, int(max_tokens), int(samples)), base_url)
        try:
            validate_prompt(prompt)
            st.caption(f"Example: {escape_markdown(render_prompt(prompt, dataset.display_names[0], dataset.name))}")
            if source == "openai":
                prompts = [render_prompt(prompt, n, dataset.name) for n in dataset.display_names]
                cost = estimate_request_cost(model, prompts, request.settings)
                st.caption(
                    f"Estimated cost for {len(prompts)} classes: at most ${cost:.4f}" if cost is not None else "No price known for this model."
                )
                if not openai_key():
                    st.warning("No OPENAI_API_KEY in the environment or Streamlit secrets.")
        except FewShotError as e:
            st.error(escape_markdown(str(e)))
    elif source == "captions":
        request = DescribeRequest(source, captions_root=st.text_input("Captions folder (holding text_c10/)"))

    registry = job_registry()
    if st.button("Generate", type="primary"):
        key = openai_key() if source in ("openai", "openai-compatible") else None
        job, started = registry.start(
            "describe",
            lambda on_progress, should_cancel: describe(dataset, request, cache, api_key=key, on_progress=on_progress, should_cancel=should_cancel),
        )
        if not started:
            st.info("A generation job is already running; showing its progress.")

    @st.fragment(run_every=1.0)
    def progress() -> None:
        job = registry.get("describe")
        show_job(job, "Generation")
        if job is not None and job.status == "finished":
            r = job.result
            cost = f", estimated ${r.estimated_cost_usd:.4f}" if r.estimated_cost_usd is not None else ""
            st.success(
                f"{r.classes_done} classes, {r.descriptions} descriptions; {r.prompt_tokens} prompt + {r.completion_tokens} completion tokens{cost}."
            )

    progress()

st.subheader("Browse and edit")
sets = DescriptionStore(cache).list(dataset.name)
if not sets:
    st.info("Nothing generated yet.")
    st.stop()
# Labels must not change while a job fills the set, or the selection would reset: counts go in the caption.
dset = st.selectbox("Description set", sets, format_func=lambda d: f"{d.meta['source']} · {d.meta['settings'].get('model', '')} · {d.path.name}")
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
st.download_button(
    "Download JSON",
    json.dumps(dset.export(dataset.display_names), indent=2, ensure_ascii=False),
    f"{dataset.name}-descriptions.json",
    "application/json",
)
