"""Results page: Figure 4, Table 1, zero-shot vs few-shot, run history and downloads."""

from __future__ import annotations

import json

import streamlit as st

from app_sidebar import escape_markdown, page_settings
from fewshot_core import FewShotError
from fewshot_core.datasets.images import load_rgb
from fewshot_core.experiments import RunFolder, list_runs, per_class_report, table1
from fewshot_core.plots import compare_runs, describe_run, figure4, worst_classes, zero_vs_few

SETTINGS = {
    "image_text_val": "image + text (val-selected texts)",
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
oracle = st.toggle("Also show the oracle (text count chosen on the test set, as the paper did)", value=False)

fig = figure4(results, f"Figure 4 · {chosen['name']}", how, oracle=oracle)
st.plotly_chart(fig, width="stretch", key="figure4")
st.caption(f"Mean ± std over seeds on the whole test split. {how}. Text count chosen on validation unless marked oracle.")

st.subheader("Table 1")
st.dataframe(table.round(2), width="stretch", hide_index=True)
st.subheader("Zero-shot vs few-shot")
st.plotly_chart(zero_vs_few(results), width="stretch", key="zero_vs_few")

st.subheader("Per class")
p1, p2 = st.columns(2)
shot = p1.selectbox("Shots", sorted(results[results.method == "adapter"].shots.unique()))
setting = p2.selectbox(
    "Classifier", ["image_text_val", "image_only", "linear-probe", "tip-adapter", "zeroshot"], format_func=lambda k: SETTINGS.get(k, k)
)
try:
    per_class, confusions, examples = _per_class(chosen["path"], chosen["units"], int(shot), setting)
    st.plotly_chart(worst_classes(per_class), width="stretch", key="per_class")
    st.caption(f"Test accuracy per class, mean over seeds ({SETTINGS[setting]}, {shot} shots). {how}.")
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
