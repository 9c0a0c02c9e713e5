"""Results page: Figure 4, Table 1, zero-shot vs few-shot, run history and downloads."""

from __future__ import annotations

import json

import streamlit as st

from app_sidebar import page_settings
from fewshot_core.experiments import RunFolder, list_runs, table1
from fewshot_core.plots import describe_run, figure4, zero_vs_few

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
