"""Descriptions page: prompt, source, generation as a job (progress per class, cancel), judge, browse and edit."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import streamlit as st

from fewshot_app.context import backbone_spec, cache_folder, dataset_spec, default_source, job_registry, openai_key, settings
from fewshot_app.state import flash, follow_job, remember, remembered_index, set_coverage, show_flash
from fewshot_app.widgets import escape_markdown, show_job
from fewshot_app.words import description_settings, for_app
from fewshot_core import FewShotError
from fewshot_core.datasets import dataset_info, load_dataset
from fewshot_core.descriptions.edits import table_changes
from fewshot_core.descriptions.endpoint import APP_KEY_ENV
from fewshot_core.descriptions.generate import DescribeRequest
from fewshot_core.descriptions.json_io import import_description_bytes
from fewshot_core.descriptions.prompt import DEFAULT_PROMPT, max_tokens_for, render_prompt, validate_prompt
from fewshot_core.descriptions.registry import SOURCE_REGISTRY, source_info
from fewshot_core.descriptions.sources import GenerationSettings, estimate_request_cost
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.jobspec import DescribeSpec, JudgeSpec, describe_settings
from fewshot_core.names import name_some, set_label, write_label

SOURCES = (*SOURCE_REGISTRY, "json upload")
CONFIRM_SHARE = 0.25  # removing more than this share of a set's lines asks first
SET_KEY = "browse-set"  # the chosen description set (its folder name)


def upload_ui(dataset, cache) -> None:
    upload = st.file_uploader('A {"class name": ["sentence", ...]} file (CuPL format)', type="json")
    if upload is None:
        return
    data = upload.getvalue()
    try:  # stored under its content hash: the client's file name never becomes a path
        report = import_description_bytes(dataset, upload.getvalue(), cache)
        st.success(f"Matched {len(report['matched'])} of {dataset.num_classes} classes.")
        unmatched, ambiguous = report["unmatched_keys"], list(report["ambiguous_keys"])
        if unmatched or ambiguous:
            parts = [f"{len(unmatched)} match no class ({name_some(unmatched)})" if unmatched else ""]
            parts.append(f"{len(ambiguous)} could be several classes ({name_some(ambiguous)})" if ambiguous else "")
            st.warning(escape_markdown(f"Not assigned, of the file's class names: {'; '.join(p for p in parts if p)}."))
    except FewShotError as e:
        st.error(escape_markdown(upload_message(str(e), data, upload.name)))


def upload_message(message: str, data: bytes, shown_name: str) -> str:
    """An import error about an upload, naming the file as the user chose it, not where it is kept
    (``<cache>/uploads/<sha256>.json``); the name is only shown, never used as a path."""
    stored = re.compile(r"\S*uploads/" + hashlib.sha256(data).hexdigest() + r"\.json")
    return stored.sub(lambda _: f"'{shown_name}'", message)


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


def llm_ui(source: str, dataset) -> DescribeRequest | None:
    """Prompt and sampling settings of an LLM source, as a describe request (None while the prompt is invalid)."""
    prompt = st.text_area("Prompt", DEFAULT_PROMPT, help="{class_name} is replaced by each class's name; {dataset} by bird/pet.")
    c1, c2, c3, c4 = st.columns(4)
    defaults = GenerationSettings()  # the paper's settings; the local model's budget fits the lines the prompt asks for
    model = c1.text_input("Model", source_info(source).default_model)
    temperature = c2.slider("Temperature", 0.0, 1.5, defaults.temperature)
    budget = max_tokens_for(prompt) if source == "local" else max(defaults.max_tokens, max_tokens_for(prompt))
    max_tokens = c3.number_input(
        "Max tokens", 16, 4000, budget, help="Fits the number of lines the prompt asks for (about 24 tokens a line, measured on SmolLM2)."
    )
    samples = c4.number_input("Samples per class", 1, 10, defaults.samples)
    chosen = {"model": model} if model.strip() else {}  # an emptied Model field: the source's default model
    sampling = describe_settings(source, **chosen, temperature=float(temperature), max_tokens=int(max_tokens), samples=int(samples))
    request = DescribeRequest(source, prompt, sampling)
    if source == "openai-compatible":  # its own key only (never OPENAI_API_KEY), plain http to this machine only
        request.base_url = st.text_input("Server URL", "http://localhost:11434/v1")
        if st.checkbox(f"Send the key in ${APP_KEY_ENV}", bool(os.environ.get(APP_KEY_ENV)), help="Set it where the app starts."):
            request.api_key_env = APP_KEY_ENV
        request.allow_insecure_http = st.checkbox(
            "Allow plain http:// to another machine", help="The key and the prompts then cross the network unencrypted."
        )
    if source == "local":
        request.batch_size = int(
            st.number_input(
                "Classes per generate call",
                1,
                32,
                1,
                help="1: each class shows the moment it is done. 8: about 4× the tokens per second on a 2-core CPU "
                "(README, bench_describe), but progress moves 8 classes at a time.",
            )
        )
    try:
        validate_prompt(prompt)
        st.caption(f"Example: {escape_markdown(render_prompt(prompt, dataset.display_names[0], dataset.name))}")
        if source_info(source).priced:
            prompts = [render_prompt(prompt, n, dataset.name) for n in dataset.display_names]
            cost = estimate_request_cost(sampling.model, prompts, sampling)
            st.caption(f"Estimated cost for {len(prompts)} classes: at most ${cost:.4f}" if cost is not None else "No price known for this model.")
        if source_info(source).needs_key and not openai_key():
            st.warning("No OPENAI_API_KEY in the environment or Streamlit secrets.")
    except FewShotError as e:
        st.error(escape_markdown(str(e)))
        return None
    return request


def generation_progress(registry, source: str) -> None:
    def draw(job) -> None:
        if job is None:
            return
        show_job(job, "Generation", eta_step="classes")
        event = job.progress("classes")
        metrics = (event or {}).get("metrics") or {}
        if "tokens_per_s" in metrics:
            st.caption(
                f"{metrics['tokens_per_s']:.1f} completion tokens/s, {metrics['seconds_per_class']:.1f} s per class "
                f"(measured over the classes generated so far in this job, the model load not included)."
            )
        if job.status == "finished" and job.result:
            r = job.result
            cost = f", estimated ${r['estimated_cost_usd']:.4f}" if r.get("estimated_cost_usd") is not None else ""
            st.success(
                f"{r['classes_done']} classes, {r['descriptions']} descriptions; "
                f"{r['prompt_tokens']} prompt + {r['completion_tokens']} completion tokens{cost}."
            )

    def show_new_set(job) -> None:  # the set this job filled is the one to browse
        store = (job.result or {}).get("store")
        if store:
            st.session_state[SET_KEY] = Path(store).name

    follow_job(registry, "describe", draw, slot=source, on_end=show_new_set)


def generate_ui(s, dataset, source: str) -> None:
    if source_info(source).completes:
        request = llm_ui(source, dataset)
        classes = classes_ui(dataset)
    else:  # the data sources take no sampling settings (the CLI's defaults, as they were)
        request, classes = DescribeRequest(source, settings=describe_settings(source)), None
        if source == "captions":
            request.captions_root = st.text_input("Captions folder (holding text_c10/)")
    registry = job_registry()
    if st.button("Generate", type="primary", disabled=request is None):
        key = openai_key() if source == "openai" else None  # OPENAI_API_KEY goes to api.openai.com only
        spec = DescribeSpec(dataset_spec(s), request, classes, cache_folder(s))
        try:
            registry.start("describe", spec, slot=source, secrets={"OPENAI_API_KEY": key} if key else None)
        except FewShotError as e:
            st.info(escape_markdown(str(e)) + " Its progress is below.")
    generation_progress(registry, source)


def _flagged_in_effect(dset, records: list[dict]) -> dict[int, list[str]]:
    """The flagged lines of a judgement that are still in the set, by class."""
    out: dict[int, list[str]] = {}
    shown = {c: set(dset.lines(c)) for c in {r["class_index"] for r in records if r["flagged"]}}
    for r in records:
        if r["flagged"] and r["text"] in shown[r["class_index"]]:
            out.setdefault(r["class_index"], []).append(r["text"])
    return out


def _judged_with(job, dataset) -> dict:
    """Which training images judged the lines (the job's own record; for a job from before it kept one, the
    training split's labels, which is what every judge used)."""
    recorded = (job.result or {}).get("judged_with")
    if isinstance(recorded, dict):
        return recorded
    from fewshot_core.judge import judged_with

    return judged_with(dataset.split("train").labels, dataset.num_classes)


def removal_ui(dset, dataset, job, records: list[dict], slot: str) -> None:
    """Remove the flagged lines in one click (asking first when that is a large share of the set), or restore them."""
    flagged = _flagged_in_effect(dset, records)
    count = sum(map(len, flagged.values()))
    confirm = f"confirm-remove-{slot}"
    b1, b2 = st.columns(2)
    if count and b1.button(f"Remove the {_lines(count).replace('line', 'flagged line')}", key=f"remove-{slot}"):
        total = sum(len(dset.lines(c)) for c in range(dataset.num_classes))
        if count > CONFIRM_SHARE * total:
            st.session_state[confirm] = True
        else:
            _remove(dset, dataset, job, flagged, count, total)
    if count and st.session_state.get(confirm):
        total = sum(len(dset.lines(c)) for c in range(dataset.num_classes))
        st.warning(f"This removes {count} of the set's {total} lines ({100 * count / max(total, 1):.0f} %). Remove them?")
        c1, c2 = st.columns(2)
        if c1.button(f"Yes, remove {count} lines", key=f"yes-{slot}"):
            st.session_state.pop(confirm)
            _remove(dset, dataset, job, flagged, count, total)
        if c2.button("Keep them", key=f"no-{slot}"):
            st.session_state.pop(confirm)
            st.rerun()
    last = next((r for r in reversed(dset.removals()) if not r.get("restored") and r.get("count")), None)
    if last is not None and b2.button(f"Restore them ({_lines(last['count'])})", key=f"restore-{slot}"):
        back = dset.restore_removal(last["id"])
        flash("judge", "success", f"Restored {_lines(back)}, each where it was (with your rewrites).")
        st.rerun()


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


def _remove(dset, dataset, job, flagged: dict[int, list[str]], count: int, total: int) -> None:
    dset.remove(flagged, reason="flagged by Judge with CLIP", judged_with=_judged_with(job, dataset))
    flash(
        "judge",
        "success",
        f"Removed {count} of {total} lines ({100 * count / max(total, 1):.0f} %), kept as your edits: 'Restore them' brings them back.",
    )
    st.rerun()


def judge_ui(s, dataset, dset) -> None:
    """CLIP's view of every line (a job: CLIP loads in its own process), sorting, filtering, one-click removal."""
    st.subheader("Judge the descriptions")
    registry = job_registry()
    slot = dset.path.name
    spec = JudgeSpec(dataset_spec(s), backbone_spec(s), cache_folder(s), str(dset.path))
    if st.button("Judge with CLIP", help="Each line's cosine to its class's training images, before and after the mean-shift translation."):
        try:
            registry.start("judge", spec, slot=slot)
        except FewShotError as e:
            st.info(escape_markdown(str(e)))
    show_flash("judge")  # outside the polling section, so it stays until the next click

    def judged(job) -> None:
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
        removal_ui(dset, dataset, job, records, slot)

    follow_job(registry, "judge", judged, slot=slot)


def _set_words(dset, dataset, covered: int) -> str:
    """The caption under the chosen set: coverage, tokens, settings and whether a judge pruned it."""
    usage, meta = dset.usage(), dset.meta
    text = (
        f"{covered} of {dataset.num_classes} classes have descriptions. Tokens used: {usage.prompt_tokens} prompt, "
        f"{usage.completion_tokens} completion. Settings: {description_settings(meta.get('source', ''), meta.get('settings'))}."
    )
    provenance = dset.provenance()
    if provenance["pruned_by_judge"]:
        text += (
            f" Pruned by Judge with CLIP, which used up to {provenance['pruned_with_labels_per_class']} labelled training images per class: "
            "a few-shot run on this set has seen more labels than its shots (restore the removed lines to undo)."
        )
    return text


def edit_ui(dset, c: int) -> None:
    """One class's lines in a table: rewrite a line in place, delete rows, add rows at the end; Save keeps them as edits."""
    lines = dset.lines(c)
    version = st.session_state.get("edit-version", 0)  # a new table after each save: the old one's changes are applied
    key = f"edit-{dset.path.name}-{c}-{version}"
    st.data_editor({"description": lines}, num_rows="dynamic", width="stretch", key=key)
    state = st.session_state.get(key) or {}
    add, delete, replace = table_changes(
        lines, state.get("edited_rows", {}), state.get("deleted_rows", []), state.get("added_rows", []), "description"
    )
    if (add or delete or replace) and st.button("Save edits"):
        dset.edit(c, add=add, delete=delete, replace=replace)
        done = [
            f"{len(replace)} rewritten in place" if replace else "",
            f"{len(add)} added" if add else "",
            f"{len(delete)} deleted" if delete else "",
        ]
        flash("browse", "success", f"Saved: {', '.join(d for d in done if d)} (kept apart from the generated text; deleted lines can be restored).")
        st.session_state["edit-version"] = version + 1
        st.rerun()


def browse_ui(dataset, cache) -> None:
    st.subheader("Browse and edit")
    sets = DescriptionStore(cache).list(dataset.name)
    if not sets:
        st.info("Nothing generated yet.")
        return
    by_name = {d.path.name: d for d in sets}
    covered = {name: len(set_coverage(d, dataset.num_classes)) for name, d in by_name.items()}
    if st.session_state.get(SET_KEY) not in by_name:
        st.session_state[SET_KEY] = sets[0].path.name  # the newest
    name = st.selectbox(
        "Description set", list(by_name), key=SET_KEY, format_func=lambda n: f"{set_label(by_name[n])} · {covered[n]}/{dataset.num_classes} classes"
    )
    dset = by_name[name]
    with st.popover("Rename this set"):
        new = st.text_input("Name", set_label(dset), key=f"name-{dset.path.name}")
        if st.button("Save name"):
            write_label(dset.path, new)
            st.rerun()
    st.caption(escape_markdown(_set_words(dset, dataset, covered[name])))
    show_flash("browse")
    query = st.text_input("Search classes")
    classes = [c for c in range(dataset.num_classes) if query.lower() in dataset.display_names[c].lower()]
    if classes:
        c = st.selectbox("Class", classes, format_func=lambda c: dataset.display_names[c])
        edit_ui(dset, c)
        with st.expander("Raw completion"):
            st.text("\n\n".join(dset.record(c)["raw"]) or "(from annotations)")
    judge_ui(settings(), dataset, dset)
    st.download_button(
        "Download JSON",
        json.dumps(dset.export(dataset.display_names), indent=2, ensure_ascii=False),
        f"{dataset.name}-descriptions.json",
        "application/json",
    )


def source_ui(s) -> str:
    """The source, defaulting to what is available; the choice is remembered per dataset across reloads."""
    name, key = f"descriptions.source.{s.dataset}", f"source-{s.dataset}"
    return st.selectbox(
        "Source",
        SOURCES,
        index=remembered_index(name, list(SOURCES), default_source(s.dataset)),
        key=key,
        on_change=remember,
        args=(name, key),
        help="; ".join(f"{info.name} = {info.help}" for info in SOURCE_REGISTRY.values()) + "; json upload = your own file (CuPL format).",
    )


def page() -> None:
    s = settings()
    st.title("Descriptions")
    cache = s.cache_path()
    if not s.dataset_root and dataset_info(s.dataset).needs_root:
        st.info("Choose the dataset folder in the sidebar first (Data page).")
        return
    try:
        dataset = load_dataset(s.dataset, s.dataset_folder(), s.split_path())
    except FewShotError as e:
        st.error(escape_markdown(for_app(str(e))))
        return
    source = source_ui(s)
    if source == "json upload":
        upload_ui(dataset, cache)
    else:
        generate_ui(s, dataset, source)
    browse_ui(dataset, cache)
