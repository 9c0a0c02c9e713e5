"""The answer at a glance: "Does text help?" per shot count and translation, and Table 1 narrow enough to read
without scrolling. Both only re-arrange what ``report.table1`` / ``summary.summary_rows`` computed."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .comparisons import init_column
from .report import TRANSLATION_LABELS, table1_display
from .stats import mark
from .summary import baseline_label, summary_rows

GAIN_HEADER = "gain over image only [95% CI]"
STRONGEST_HEADER = "gain over the strongest baseline [95% CI]"


def paired_text(cell: dict[str, Any] | None) -> str:
    """A summary's paired cell as "+4.10 [+2.03, +6.17]*" (* / † by Holm), "+4.10 (1 seed: no interval)", or "-"."""
    if not cell or cell.get("gain") is None:
        return "-"
    gain, (low, high) = cell["gain"], cell.get("gain_ci95") or [None, None]
    if low is None or high is None:
        return f"{gain:+.2f} (1 seed: no interval)"
    p = cell.get("p_holm")
    return f"{gain:+.2f} [{low:+.2f}, {high:+.2f}]" + mark(gain, math.nan if p is None else p)


def strongest_text(row: dict[str, Any]) -> str:
    """A summary row's strongest baseline in words, with its accuracy: "linear probe (55.0 %)"."""
    best = row.get("strongest_baseline")
    if not best:
        return "-"
    own = bool(row.get("head")) and best["name"] == init_column(row["head"])
    return f"{'image only' if own else baseline_label(best['name'])} ({best['mean']:.1f} %)"


def headline_frame(table: pd.DataFrame) -> pd.DataFrame:
    """One row per shot count and translation: its paired gain over image only (same head) and over the strongest
    baseline of that shot count, each [95% CI] with its Holm mark, and which baseline that is."""
    rows = []
    for r in summary_rows(table):
        for t, cell in r["translations"].items():
            rows.append(
                {
                    "shots": r["shots"],
                    "translation": TRANSLATION_LABELS[t],
                    GAIN_HEADER: paired_text(cell),
                    STRONGEST_HEADER: paired_text(cell.get("vs_strongest")),
                    "strongest baseline": strongest_text(r),
                }
            )
    return pd.DataFrame(rows, columns=["shots", "translation", GAIN_HEADER, STRONGEST_HEADER, "strongest baseline"])


def table1_compact(table: pd.DataFrame, val_per_class: int | str | None = None) -> pd.DataFrame:
    """Table 1's accuracies only (shots, seeds, image only, "<translation> text (texts)" for each translation, the
    strongest baseline with its accuracy): the gains are in ``headline_frame``, every column in ``report.table1_display``."""
    full = table1_display(table, val_per_class)
    if full.empty:
        return full
    kept = ["shots", "seeds", "image only", *[c for c in full.columns if c.endswith(" (texts)")]]
    compact = full[kept].rename(columns=lambda c: c.removeprefix("+ "))  # "raw text (texts)": a leading "+ " reads as a list in Markdown
    strongest = []
    for _, r in full.iterrows():
        name = r["strongest baseline"]
        accuracy = r["image only"] if name == "image only" else r.get(name, "")
        strongest.append(f"{name}: {accuracy}" if isinstance(accuracy, str) and accuracy and name != "-" else name)
    compact["strongest baseline"] = strongest
    return compact
