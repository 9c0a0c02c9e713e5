"""Results page: Figure 4, Table 1, zero-shot vs few-shot, run history and downloads."""

from __future__ import annotations

import json

import streamlit as st

from app_sidebar import escape_markdown, page_settings
from fewshot_core import FewShotError
from fewshot_core.datasets.images import load_rgb
from fewshot_core.plots import compare_runs, describe_run, figure4, worst_classes, zero_vs_few
from fewshot_core.report import GAIN_LEGEND, TRANSLATION_LABELS, TRANSLATIONS, column, per_class_report, protocol_note, table1, table1_display
from fewshot_core.runs import RunFolder, list_runs

SETTINGS = {
    **{t: f"image + {TRANSLATION_LABELS[t]} text (val-selected texts)" for t in TRANSLATIONS},
    "image_only": "image only",
    "linear-probe": "linear probe",
    "tip-adapter": "Tip-Adapter",
    "zeroshot": "zero-shot CLIP",
}

s = page_settings()
st.title("Results")
runs = list_runs(s.cache_path())
if not runs:
    st.info("No runs yet: train on the Train page (or run `python -m fewshot_core reproduce`).")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=32)
def _load(path: str, units: int):
    """Results and Table 1 of a run; re-read only when its number of finished units changes."""
    results = RunFolder(path).results()
    return results, table1(results) if not results.empty else None


@st.cache_data(show_spinner=False, max_entries=64)
def _per_class(path: str, units: int, shot: int, setting: str):
    return per_class_report(path, _load(path, units)[0], shot, setting)


chosen = st.selectbox("Run", runs, format_func=lambda r: f"{r['name']} · {describe_run(r['config'])}")
results, table = _load(chosen["path"], chosen["units"])
if results.empty:
    st.warning("This run has no finished results yet.")
    st.stop()
how = describe_run(chosen["config"])
sweep = chosen["config"].get("sweep", {})
expected = len(sweep.get("shots", [])) * len(sweep.get("seeds", [])) + 1  # one unit per (shots, seed), plus zero-shot
if chosen["units"] < expected:
    st.info(
        f"Partial run: {chosen['units']} of {expected} units done (zero-shot, then one per shot count and seed). "
        "Everything below uses the finished units only; train again with the same settings to resume it."
    )
oracle = st.toggle("Also show the oracle (text count chosen on the test set, as the paper did)", value=False)

fig = figure4(results, f"Figure 4 · {chosen['name']}", how, oracle=oracle)
st.plotly_chart(fig, width="stretch", key="figure4")
st.caption(f"Mean ± std over seeds on the whole test split. {how}. Text count chosen on validation unless marked oracle.")

st.subheader("Table 1")
shown = table1_display(table)
if shown.empty:
    st.info("No few-shot results yet." + (f" Zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}%." if "zero_shot" in table else ""))
else:
    st.dataframe(shown, width="stretch", hide_index=True)
    note = protocol_note(sweep.get("protocol", ""), chosen["config"].get("qformer_images_per_class"))
    references = [f"zero-shot CLIP {table.zero_shot.iloc[0]:.2f}%" if "zero_shot" in table else ""]
    if "description_zero_shot" in table:
        references.append(
            f"description zero-shot {table.description_zero_shot.iloc[0]:.2f}% ({int(table.description_zero_shot_texts.iloc[0])} texts/class)"
        )
    st.caption(
        f"Test accuracy %, mean ± std over seeds; (texts) = descriptions per class chosen on validation (oracle: on test). "
        f"{GAIN_LEGEND}; * = interval above 0 (text helped). " + (f"{note}. " if note else "") + " · ".join(r for r in references if r)
    )
st.subheader("Zero-shot vs few-shot")
st.plotly_chart(zero_vs_few(results), width="stretch", key="zero_vs_few")

st.subheader("Per class")
p1, p2 = st.columns(2)
shot_counts = sorted(int(k) for k in results.shots.unique() if k > 0)
shot = p1.selectbox("Shots", shot_counts or [0], format_func=lambda k: str(k) if k else "none finished yet")
translated = [t for t in TRANSLATIONS if f"{column(t)}_texts" in table]
classifiers = [*translated, "image_only", "linear-probe", "tip-adapter", "zeroshot"] if shot_counts else ["zeroshot"]
setting = p2.selectbox("Classifier", classifiers, format_func=lambda k: SETTINGS.get(k, k))
try:
    per_class, confusions, examples = _per_class(chosen["path"], chosen["units"], int(shot), setting)
    st.plotly_chart(worst_classes(per_class), width="stretch", key="per_class")
    st.caption(f"Test accuracy per class, mean over seeds ({SETTINGS[setting]}" + (f", {shot} shots" if setting != "zeroshot" else "") + f"). {how}.")
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

c1, c2, c3, c4 = st.columns(4)
c1.download_button("results.csv", results.to_csv(index=False), f"{chosen['name']}-results.csv", "text/csv")
c2.download_button("table1.csv", table.to_csv(index=False), f"{chosen['name']}-table1.csv", "text/csv")
c3.download_button("config.json", json.dumps(chosen["config"], indent=2), f"{chosen['name']}-config.json", "application/json")
c4.download_button("figure4.html", fig.to_html(include_plotlyjs="cdn"), f"{chosen['name']}-figure4.html", "text/html")

st.subheader("Run history")
history = [
    {
        "run": r["name"],
        "dataset": r["config"].get("dataset", ""),
        "how": describe_run(r["config"]),
        "units done": r["units"],
        "created": r["config"].get("created", ""),
    }
    for r in runs
]
st.dataframe(history, width="stretch", hide_index=True)
compare = st.multiselect("Compare runs", [r["name"] for r in runs], default=[])
if compare:
    by_name = {r["name"]: r for r in runs}
    st.plotly_chart(compare_runs({name: _load(by_name[name]["path"], by_name[name]["units"])[0] for name in compare}), width="stretch", key="compare")
    st.caption(" · ".join(f"{name}: {describe_run(by_name[name]['config'])}" for name in compare))
