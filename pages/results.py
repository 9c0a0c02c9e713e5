"""Results page: Figure 4, Table 1, zero-shot vs few-shot, run history and downloads; live while a sweep runs."""

from __future__ import annotations

import json

import streamlit as st

from app_sidebar import escape_markdown, job_registry, settings
from fewshot_core import FewShotError
from fewshot_core.class_groups import demo_held_out, group_accuracy
from fewshot_core.datasets.images import load_rgb
from fewshot_core.names import run_label, write_label
from fewshot_core.plots import compare_runs, describe_run, figure4, group_figure, worst_classes, zero_vs_few
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
from fewshot_core.runs import RunFolder, list_runs
from fewshot_core.storage import read_json

SETTINGS = {
    **{t: f"image + {TRANSLATION_LABELS[t]} text (val-selected texts)" for t in TRANSLATIONS},
    "image_only": "image only",
    "linear-probe": "linear probe",
    "tip-adapter": "Tip-Adapter",
    "zeroshot": "zero-shot CLIP",
}


@st.cache_data(show_spinner=False, max_entries=32)
def _load(path: str, units: int):
    """Results and Table 1 of a run; re-read only when its number of finished units changes."""
    results = RunFolder(path).results()
    return results, table1(results) if not results.empty else None


@st.cache_data(show_spinner=False, max_entries=64)
def _per_class(path: str, units: int, shot: int, setting: str):
    return per_class_report(path, _load(path, units)[0], shot, setting)


def _expected_units(config: dict) -> int:
    sweep = config.get("sweep", {})
    return len(sweep.get("shots", []) or []) * len(sweep.get("seeds", []) or []) + 1  # one unit per (shots, seed), plus zero-shot


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

    watch()


def table_ui(table, chosen: dict, how: str) -> None:
    st.subheader("Table 1")
    sweep = chosen["config"].get("sweep", {})
    shown = table1_display(table, sweep.get("val_per_class"))
    if shown.empty:
        st.info("No few-shot results yet." + (f" Zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}%." if "zero_shot" in table and len(table) else ""))
        return
    st.dataframe(shown, width="stretch", hide_index=True)
    st.markdown(f"**Verdict.** {escape_markdown(table_verdict(table))}")
    note = protocol_note(sweep.get("protocol", ""), chosen["config"].get("qformer_images_per_class"))
    references = [f"zero-shot CLIP {table.zero_shot.iloc[0]:.2f}%" if "zero_shot" in table else ""]
    if "description_zero_shot" in table:
        references.append(
            f"description zero-shot {table.description_zero_shot.iloc[0]:.2f}% ({int(table.description_zero_shot_texts.iloc[0])} texts/class)"
        )
    st.caption(". ".join(legend(table, sweep.get("val_per_class"))) + ". " + (f"{note}. " if note else "") + " · ".join(r for r in references if r))


def per_class_ui(results, table, chosen: dict, how: str) -> None:
    st.subheader("Per class")
    p1, p2 = st.columns(2)
    shot_counts = sorted(int(k) for k in results.shots.unique() if k > 0)
    shot = p1.selectbox("Shots", shot_counts or [0], format_func=lambda k: str(k) if k else "none finished yet")
    translated = [t for t in TRANSLATIONS if table is not None and f"{column(t)}_texts" in table]
    classifiers = [*translated, "image_only", "linear-probe", "tip-adapter", "zeroshot"] if shot_counts else ["zeroshot"]
    setting = p2.selectbox("Classifier", classifiers, format_func=lambda k: SETTINGS.get(k, k))
    try:
        per_class, confusions, examples = _per_class(chosen["path"], chosen["units"], int(shot), setting)
        st.plotly_chart(worst_classes(per_class), width="stretch", key="per_class")
        st.caption(
            f"Test accuracy per class, mean over seeds ({SETTINGS[setting]}" + (f", {shot} shots" if setting != "zeroshot" else "") + f"). {how}."
        )
        st.dataframe(confusions, width="stretch", hide_index=True)
        if examples and examples[0]["path"]:
            cols = st.columns(6)
            for col, ex in zip(cols * 2, examples):
                try:
                    col.image(load_rgb(ex["path"]), caption=f"{ex['true']} → {ex['predicted']}", width="stretch")
                except Exception:  # noqa: BLE001 - a moved or unreadable image is skipped
                    col.caption(f"{ex['true']} → {ex['predicted']} (image unavailable)")
    except FewShotError as e:
        st.info(escape_markdown(str(e)))
    except (OSError, ValueError, KeyError, IndexError) as e:
        st.warning(f"The per-class view cannot be drawn from this run folder ({escape_markdown(type(e).__name__)}: {escape_markdown(str(e))}).")


def groups_ui(results, chosen: dict, how: str) -> None:
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
    fig = group_figure(groups, counts, f"Figure 4 by class group · {run_label(chosen)}", how)
    st.plotly_chart(fig, width="stretch", key="figure4-groups")
    view = groups.assign(setting=groups.setting.map(lambda k: SETTINGS.get(k, k))).round(2)
    st.dataframe(view.rename(columns={"held_out": "held-out"}), width="stretch", hide_index=True)
    st.caption(
        f"Test accuracy %, mean over seeds. Seen: the {int((~held_out).sum())} classes whose attribute combinations the demo CLIP saw in "
        f"training; held-out: the other {int(held_out.sum())}. Translations use the text count chosen on validation."
    )


def history_ui(runs: list[dict]) -> None:
    st.subheader("Run history")
    history = [
        {
            "run": run_label(r),
            "dataset": r["config"].get("dataset", ""),
            "how": describe_run(r["config"]),
            "units done": r["units"],
            "created": r["config"].get("created", ""),
        }
        for r in runs
    ]
    st.dataframe(history, width="stretch", hide_index=True)
    by_name = {run_label(r): r for r in runs}
    compare = st.multiselect("Compare runs", list(by_name), default=[])
    if compare:
        st.plotly_chart(
            compare_runs({name: _load(by_name[name]["path"], by_name[name]["units"])[0] for name in compare}), width="stretch", key="compare"
        )
        st.caption(" · ".join(f"{name}: {describe_run(by_name[name]['config'])}" for name in compare))


def rename_ui(chosen: dict) -> None:
    with st.popover("Rename this run"):
        new = st.text_input("Name", run_label(chosen), key=f"rename-{chosen['name']}")
        if st.button("Save name"):
            write_label(chosen["path"], new)
            st.rerun()


def page() -> None:
    s = settings()
    st.title("Results")
    runs = list_runs(s.cache_path())
    if not runs:
        st.info("No runs yet: train on the Train page (or run `python -m fewshot_core reproduce`).")
        live_ui(s.cache_path(), runs, None)
        return
    running = job_registry().get("train")
    live_dir = (running.last("run_dir") or {}).get("path") if running is not None and running.running else None
    by_path = {r["path"]: r for r in runs}  # options are paths: a run's label stays put while units are added
    index = list(by_path).index(live_dir) if live_dir in by_path else 0
    chosen = by_path[st.selectbox("Run", list(by_path), index=index, format_func=lambda p: run_label(by_path[p]))]
    rename_ui(chosen)
    live_ui(s.cache_path(), runs, chosen["path"])
    try:
        results, table = _load(chosen["path"], chosen["units"])
    except (FewShotError, OSError, ValueError, KeyError) as e:
        st.warning(f"This run folder cannot be shown: {escape_markdown(str(e))} Or choose another run.")
        return
    if results.empty:
        st.warning(
            "This run has no finished results yet." + (" Training is running: results appear as units finish." if live_dir == chosen["path"] else "")
        )
        return
    how = describe_run(chosen["config"])
    expected = _expected_units(chosen["config"])
    if chosen["units"] < expected:
        st.info(
            f"Partial run: {chosen['units']} of {expected} units done (zero-shot, then one per shot count and seed). "
            "Everything below uses the finished units only; train again with the same settings to resume it."
        )
    oracle = st.toggle("Also show the oracle (text count chosen on the test set, as the paper did)", value=False)
    fig = figure4(results, f"Figure 4 · {run_label(chosen)}", how, oracle=oracle)
    st.plotly_chart(fig, width="stretch", key="figure4")
    st.caption(f"Mean ± sample SD over seeds on the whole test split. {how}. Oracle: one text count chosen on test.")
    table_ui(table, chosen, how)
    groups_ui(results, chosen, how)
    st.subheader("Zero-shot vs few-shot")
    st.plotly_chart(zero_vs_few(results), width="stretch", key="zero_vs_few")
    per_class_ui(results, table, chosen, how)
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("results.csv", results.to_csv(index=False), f"{chosen['name']}-results.csv", "text/csv")
    c2.download_button("table1.csv", table.to_csv(index=False), f"{chosen['name']}-table1.csv", "text/csv")
    c3.download_button("config.json", json.dumps(chosen["config"], indent=2), f"{chosen['name']}-config.json", "application/json")
    c4.download_button("figure4.html", fig.to_html(include_plotlyjs="cdn"), f"{chosen['name']}-figure4.html", "text/html")
    history_ui(runs)


if __name__ == "__main__":  # Streamlit ran this file alone (its legacy pages/ mode): go through the router
    from app_router import main

    main()
