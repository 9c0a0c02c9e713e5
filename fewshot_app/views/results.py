"""Results page: "Does text help?" at a glance, Figure 4, Table 1, per-class views, downloads (one zip per run) and
the run history with a settings diff; live while a sweep runs."""

from __future__ import annotations

import json

import streamlit as st

from fewshot_app.context import job_registry, settings
from fewshot_app.widgets import escape_markdown
from fewshot_core import FewShotError
from fewshot_core.comparisons import BASELINE_METHODS
from fewshot_core.datasets.images import load_rgb
from fewshot_core.demo.class_groups import demo_held_out, group_accuracy
from fewshot_core.glossary import define, glossary_markdown
from fewshot_core.headline import headline_frame, table1_compact
from fewshot_core.names import unique_run_labels, write_label
from fewshot_core.plots import compare_runs, describe_run, figure4, gains_figure, group_figure, worst_classes, zero_vs_few
from fewshot_core.publish import load_run_report, report_files, run_zip, static_export_problem
from fewshot_core.report import (
    TRANSLATION_LABELS,
    TRANSLATIONS,
    column,
    legend,
    per_class_report,
    protocol_note,
    table1,
    table1_display,
    table_verdict,
)
from fewshot_core.run_catalog import default_run, run_state, settings_diff
from fewshot_core.runs import list_runs
from fewshot_core.storage import read_json
from fewshot_core.summary import baseline_label

SETTINGS = {"image_only": "image only", "zeroshot": "zero-shot CLIP"}  # a translation's and a baseline's words: their registries'


def setting_label(key: str) -> str:
    """A per-class classifier in words: "image + mean-shift text (val-selected count)", "linear probe", ..."""
    if key in TRANSLATION_LABELS:
        return f"image + {TRANSLATION_LABELS[key]} text (val-selected count)"
    return baseline_label(BASELINE_METHODS[key]) if key in BASELINE_METHODS else SETTINGS.get(key, key)


MIME = {"html": "text/html", "csv": "text/csv", "tex": "application/x-tex", "json": "application/json", "png": "image/png", "svg": "image/svg+xml"}


@st.cache_data(show_spinner=False, max_entries=32)
def _load(path: str, units: int):
    """Results and Table 1 of a run; re-read only when its number of finished units changes."""
    from fewshot_core.runs import RunFolder

    results = RunFolder(path).results()
    return results, table1(results) if not results.empty else None


@st.cache_data(show_spinner=False, max_entries=64)
def _per_class(path: str, units: int, shot: int, setting: str):
    return per_class_report(path, _load(path, units)[0], shot, setting)


@st.cache_data(show_spinner=False, max_entries=8)
def _report(path: str, units: int, static: bool) -> tuple[dict[str, bytes], str | None, bytes]:
    """The run's report files (``publish.report_files``) and its zip; made once per run and number of units."""
    rep = load_run_report(path)
    files, skipped = report_files(rep, static)
    return files, skipped, run_zip(rep, files, skipped)


def _snapshot(cache) -> dict[str, int]:
    return {r["path"]: r["units"] for r in list_runs(cache)}


def live_ui(cache, runs: list[dict], chosen_path: str | None) -> None:
    """While a training job runs: its progress, and a re-draw of the page as each unit finishes (no click)."""
    job = job_registry().get("train")
    if job is None or not job.running:
        return
    seen = {r["path"]: r["units"] for r in runs}

    @st.fragment(run_every=2.0)
    def watch() -> None:
        if not job.running or _snapshot(cache) != seen:
            st.rerun()
        run_dir = (job.last("run_dir") or {}).get("path")
        event = job.progress("sweep")
        where = "this run" if run_dir and run_dir == chosen_path else ("another run" if run_dir else "a new run (computing features)")
        st.caption(f"Training is running into {where}" + (f": {event['message']} ({event['done']}/{event['total']} units)." if event else "."))
        st.caption(f"Its settings: {escape_markdown(job.description)}.")

    watch()


def headline_ui(table, how: str) -> None:
    """Does text help? The verdict in words, each translation's paired gains with their intervals, as a figure and a table."""
    st.subheader("Does text help?")
    st.markdown(f"**{escape_markdown(table_verdict(table))}**")
    rows = headline_frame(table)
    if rows.empty:
        return
    st.plotly_chart(gains_figure(table, title="Gain of each translation per shot count", subtitle=how), width="stretch", key="gains")
    st.table(rows, hide_index=True)
    st.caption(
        "Paired over seeds (the same support set): a translation's test accuracy minus image only's (same head), and minus the "
        "strongest baseline of that shot count, in points, mean [95% t-interval]. * / † = Holm-adjusted p < 0.05 and gain "
        "above / below 0. See the glossary below for the words."
    )


def table_ui(table, chosen: dict) -> None:
    st.subheader("Table 1")
    sweep = chosen["config"].get("sweep", {})
    compact = table1_compact(table, sweep.get("val_per_class"))
    if compact.empty:
        st.info("No few-shot results yet." + (f" Zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}%." if "zero_shot" in table and len(table) else ""))
        return
    st.table(compact, hide_index=True)
    note = protocol_note(sweep.get("protocol", ""), chosen["config"].get("qformer_images_per_class"))
    references = [f"zero-shot CLIP {table.zero_shot.iloc[0]:.2f}%" if "zero_shot" in table else ""]
    if "description_zero_shot" in table:
        references.append(
            f"description zero-shot {table.description_zero_shot.iloc[0]:.2f}% ({int(table.description_zero_shot_texts.iloc[0])} texts/class)"
        )
    st.caption(". ".join(legend(table, sweep.get("val_per_class"))) + ". " + (f"{note}. " if note else "") + " · ".join(r for r in references if r))
    with st.expander("Every column: gains, each baseline, Q-Former − mean-shift, label budget"):
        st.dataframe(table1_display(table, sweep.get("val_per_class")), width="stretch", hide_index=True)


def per_class_ui(results, table, chosen: dict, how: str) -> None:
    st.subheader("Per class")
    p1, p2 = st.columns(2)
    shot_counts = sorted(int(k) for k in results.shots.unique() if k > 0)
    shot = p1.selectbox("Shots", shot_counts or [0], format_func=lambda k: str(k) if k else "none finished yet")
    translated = [t for t in TRANSLATIONS if table is not None and f"{column(t)}_texts" in table]
    baselines = [m for m in BASELINE_METHODS if m in set(results.method)]  # the baselines this run trained
    classifiers = [*translated, "image_only", *baselines, "zeroshot"] if shot_counts else ["zeroshot"]
    setting = p2.selectbox("Classifier", classifiers, format_func=setting_label, help=define("raw", "qformer"))
    try:
        per_class, confusions, examples = _per_class(chosen["path"], chosen["units"], int(shot), setting)
        st.plotly_chart(worst_classes(per_class), width="stretch", key="per_class")
        st.caption(
            f"Test accuracy per class, mean over seeds ({setting_label(setting)}"
            + (f", {shot} shots" if setting != "zeroshot" else "")
            + f"). {how}."
        )
        st.markdown("##### Most frequent confusions")
        st.caption("Test images of the true class predicted as another, summed over seeds.")
        st.dataframe(confusions, width="stretch", hide_index=True)
        gallery_ui(confusions, examples)
    except FewShotError as e:
        st.info(escape_markdown(str(e)))
    except (OSError, ValueError, KeyError, IndexError) as e:
        st.warning(f"The per-class view cannot be drawn from this run folder ({escape_markdown(type(e).__name__)}: {escape_markdown(str(e))}).")


def gallery_ui(confusions, examples: list[dict]) -> None:
    """The test images of the top confusion (the first row above), from every seed."""
    if confusions.empty:
        return
    top = confusions.iloc[0]
    st.markdown(f"##### Top confusion: {escape_markdown(str(top['true']))} taken for {escape_markdown(str(top['predicted']))}")
    if not examples or not examples[0]["path"]:
        st.caption("This run does not record its test images' paths (synthetic features): no images to show.")
        return
    cols = st.columns(6)
    for col, ex in zip(cols * 2, examples):
        try:
            col.image(load_rgb(ex["path"]), caption=f"{ex['true']} → {ex['predicted']}", width="stretch")
        except Exception:  # noqa: BLE001 - a moved or unreadable image is skipped
            col.caption(f"{ex['true']} → {ex['predicted']} (image unavailable)")


def groups_ui(results, chosen: dict, name: str, how: str) -> None:
    """The demo's classes seen in its CLIP's training vs held out (shown only for demo runs of the committed demo CLIP)."""
    try:
        names = read_json(f"{chosen['path']}/test_index.json")["class_names"]
        held_out = demo_held_out(chosen["config"], names)
        if held_out is None:
            return
        groups = group_accuracy(chosen["path"], results, held_out)
    except (FewShotError, OSError, ValueError, KeyError):
        return  # a partial or damaged run: the sections above already say so
    st.subheader("Seen vs held-out classes (demo)")
    counts = (int((~held_out).sum()), int(held_out.sum()))
    fig = group_figure(groups, counts, f"Figure 4 by class group · {name}", how)
    st.plotly_chart(fig, width="stretch", key="figure4-groups")
    view = groups.assign(setting=groups.setting.map(setting_label)).round(2)
    st.dataframe(
        view.rename(columns={"held_out": "held-out", "seen_std": "seen SD", "held_out_std": "held-out SD"}), width="stretch", hide_index=True
    )
    st.caption(
        f"Test accuracy %, mean and sample SD over seeds. Seen: the {int((~held_out).sum())} classes whose attribute combinations the demo "
        f"CLIP saw in training; held-out: the other {int(held_out.sum())}. Translations use the text count chosen on validation."
    )


def downloads_ui(chosen: dict, name: str) -> None:
    """The report's files (as `python -m fewshot_core report` writes them) and one zip of the run; each is made when clicked."""
    st.subheader("Downloads")
    problem = static_export_problem()
    path, units, stem = chosen["path"], chosen["units"], chosen["name"]
    names = ["figure4.html", "table1.csv", "table1.tex", "summary.json"] + ([] if problem else ["figure4.png", "figure4.svg", "gains.png"])
    cols = st.columns(4)
    for i, file in enumerate(names):
        cols[i % 4].download_button(
            file,
            lambda file=file: _report(path, units, problem is None)[0].get(file, b""),
            f"{stem}-{file}",
            MIME[file.rsplit(".", 1)[1]],
            on_click="ignore",
            key=f"download-{file}",
        )
    st.download_button(
        f"Everything as one zip ({stem}.zip: config, results, figures, tables)",
        lambda: _report(path, units, problem is None)[2],
        f"{stem}.zip",
        "application/zip",
        on_click="ignore",
        type="primary",
        key="download-zip",
    )
    st.caption(
        f"The same files as `python -m fewshot_core report RUN_DIR --out DIR` for “{escape_markdown(name)}”; figure4.html opens offline "
        "(plotly.js inside)." + (f" PNG and SVG are not offered here: {escape_markdown(problem)}." if problem else "")
    )


def history_ui(runs: list[dict], states: dict, names: dict[str, str]) -> None:
    st.subheader("Run history")
    rows = [
        {"run": names[r["path"]], "state": states[r["path"]].summary(), "created": str(r["config"].get("created", ""))[:16].replace("T", " ")}
        for r in runs
    ]
    st.table([{k: escape_markdown(v) for k, v in row.items()} for row in rows], hide_index=True)  # a table renders Markdown: names are the user's
    with st.expander("How each run was made"):
        details = [{"run": names[r["path"]], "how": describe_run(r["config"], states[r["path"]].seeds_done), "folder": r["path"]} for r in runs]
        st.dataframe(details, width="stretch", hide_index=True)
    by_name = {names[r["path"]]: r for r in runs}
    compare = st.multiselect(
        "Compare runs", list(by_name), default=[], help="Image only and the translated text of each run, and how their settings differ."
    )
    if compare:
        compare_ui([by_name[n] for n in compare], names)


def compare_ui(chosen: list[dict], names: dict[str, str]) -> None:
    """The chosen runs' curves and settings diff; a run that cannot be drawn is named, with why."""
    drawn, left_out = {}, []
    for run in chosen:
        name = names[run["path"]]
        try:
            results = _load(run["path"], run["units"])[0]
        except (FewShotError, OSError, ValueError, KeyError) as e:
            left_out.append(f"{name} (its folder cannot be read: {e})")
            continue
        if results.empty or not (results.shots > 0).any():
            left_out.append(f"{name} ({run_state(run).summary()})")
        else:
            drawn[name] = results
    if drawn:
        st.plotly_chart(compare_runs(drawn), width="stretch", key="compare")
    if left_out:
        st.info("Not drawn, no few-shot results to draw: " + escape_markdown("; ".join(left_out)) + ".")
    if len(chosen) > 1:
        diff = settings_diff({names[r["path"]]: r["config"] for r in chosen})
        st.markdown("##### Settings that differ")
        if diff.empty:
            st.caption("Every recorded setting is the same.")
        else:
            st.dataframe(diff, width="stretch", hide_index=True)


def rename_ui(chosen: dict, name: str) -> None:
    with st.popover("Rename this run"):
        new = st.text_input("Name", name, key=f"rename-{chosen['name']}")
        if st.button("Save name"):
            write_label(chosen["path"], new)
            st.rerun()


def status_ui(state, running_here: bool) -> None:
    """How complete the chosen run is, and how it ended when it did not finish."""
    if state.status == "complete":
        return
    done = f"{state.units} of {state.expected} units done (zero-shot, then one per shot count and seed)"
    if running_here or state.status == "running":
        st.info(f"Partial run: {done}. Training is running: everything below uses the finished units and redraws as more finish.")
    elif state.status == "failed":
        st.warning(f"This run failed ({escape_markdown(state.message or 'no reason recorded')}). Partial run: {done}.")
    else:
        ended = {"cancelled": "was cancelled", "interrupted": "was interrupted (its process ended without a report)"}.get(state.status)
        st.info(
            f"Partial run: {done}" + (f"; it {ended}" if ended else "") + ". Everything below uses the finished units only; "
            "train again with the same settings to resume it."
        )


def glossary_ui() -> None:
    with st.expander("Glossary: protocols, translations, head, unit, oracle, seeds, label budget, Holm"):
        st.markdown(glossary_markdown())


def page() -> None:
    s = settings()
    st.title("Results")
    runs = list_runs(s.cache_path())
    if not runs:
        st.info("No runs yet: train on the Train page (or run `python -m fewshot_core reproduce`).")
        live_ui(s.cache_path(), runs, None)
        glossary_ui()
        return
    states = {r["path"]: run_state(r) for r in runs}
    names = unique_run_labels(runs)
    running = job_registry().get("train")
    live_dir = (running.last("run_dir") or {}).get("path") if running is not None and running.running else None
    by_path = {r["path"]: r for r in runs}  # options are paths: a run's label stays put while units are added
    first = list(by_path).index(default_run(runs, states, live_dir))
    choice = st.selectbox(
        "Run",
        list(by_path),
        index=first,
        format_func=lambda p: f"{names[p]} · {'running' if p == live_dir else states[p].summary()}",
        help="Opens the run training is writing into, else the newest complete run. " + define("run", "unit"),
    )
    chosen, name, state = by_path[choice], names[choice], states[choice]
    rename_ui(chosen, name)
    live_ui(s.cache_path(), runs, chosen["path"])
    status_ui(state, live_dir == chosen["path"])
    try:
        results, table = _load(chosen["path"], chosen["units"])
    except (FewShotError, OSError, ValueError, KeyError) as e:
        st.warning(f"This run folder cannot be shown: {escape_markdown(str(e))} Or choose another run.")
        history_ui(runs, states, names)
        return
    if results.empty:
        st.warning(
            "This run has no finished results yet." + (" Training is running: results appear as units finish." if live_dir == chosen["path"] else "")
        )
        history_ui(runs, states, names)
        return
    how = describe_run(chosen["config"], state.seeds_done)
    headline_ui(table, how)
    st.subheader("Figure 4")
    oracle = st.toggle("Also show the oracle (text count chosen on the test set, as the paper did)", value=False, help=define("oracle"))
    fig = figure4(results, f"Figure 4 · {name}", how, oracle=oracle)
    st.plotly_chart(fig, width="stretch", key="figure4")
    st.caption(f"Mean ± sample SD over seeds on the whole test split. {escape_markdown(how)}. Oracle: one text count chosen on test.")
    table_ui(table, chosen)
    groups_ui(results, chosen, name, how)
    st.subheader("Zero-shot vs few-shot")
    st.plotly_chart(zero_vs_few(results), width="stretch", key="zero_vs_few")
    per_class_ui(results, table, chosen, how)
    downloads_ui(chosen, name)
    c1, c2 = st.columns(2)
    c1.download_button("results.csv (every row)", results.to_csv(index=False), f"{chosen['name']}-results.csv", "text/csv", on_click="ignore")
    c2.download_button("config.json", json.dumps(chosen["config"], indent=2), f"{chosen['name']}-config.json", "application/json", on_click="ignore")
    history_ui(runs, states, names)
    glossary_ui()
