"""What a run's results say, for people: Table 1 as text and as a display frame, their legends, per-class views.

The numbers come from ``comparisons.table1`` (per-seed text counts, paired gains, every baseline, Holm's
correction); the JSON form, the verdict and the labels from ``summary``. Both are re-exported here, where
the CLI and the pages look for them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .comparisons import (
    BASELINES,
    QF_VS_MS,
    TRANSLATIONS,
    chosen_text_counts,
    column,
    init_column,
    paired_gain,
    primary_head,
    select_text_count,
    table1,
    with_translation,
)
from .errors import FewShotError
from .runs import RunFolder
from .stats import PairedGain, holm, mark, t_interval
from .storage import read_json
from .summary import (
    BASELINE_LABELS,
    HEAD_LABELS,
    TRANSLATION_LABELS,
    baseline_label,
    compare_verdicts,
    label_budget,
    shots_text,
    summary_json,
    summary_rows,
    val_count,
    verdict,
)

__all__ = [  # the report's interface; parts live in comparisons, stats and summary
    "BASELINES",
    "BASELINE_LABELS",
    "GAIN_LEGEND",
    "PairedGain",
    "TRANSLATIONS",
    "TRANSLATION_LABELS",
    "column",
    "compare_verdicts",
    "format_table1",
    "holm",
    "label_budget",
    "legend",
    "paired_gain",
    "per_class_report",
    "protocol_note",
    "select_text_count",
    "selected_predictions",
    "summary_json",
    "t_interval",
    "table1",
    "table1_display",
    "table_verdict",
    "text_helped",
    "verdict",
    "with_translation",
]

SD_LEGEND = "test accuracy %, mean ± sample SD (ddof 1) over seeds"
TEXTS_LEGEND = (
    "(texts) = descriptions per class chosen per seed on its own validation set: median (min–max) over seeds; oracle: one count chosen on test"
)
GAIN_LEGEND = "gain: test accuracy minus image only on the same seed (same support set, same head), points, mean [95% t-interval over seeds]"
STRONGEST_LEGEND = "vs strongest: minus the strongest baseline of the shot count (highest mean test accuracy among image only and the baselines)"
STAR_LEGEND = "* / † = Holm-adjusted p < 0.05 and gain above / below 0 (two-sided paired t-test; Holm across the table's cells of each comparison)"
EDGE_LEGEND = "edge = some seed's hyper-parameters chosen on validation still sit on the edge of their grid"


def text_helped(table: pd.DataFrame, max_shots: int = 4, translation: str = "qformer") -> dict[int, bool]:
    """Per shot count up to ``max_shots``: is the paired gain of ``translation`` over image only starred?

    Starred: Holm-adjusted p < 0.05 (across the table's gain cells) and gain above 0. With one seed there is
    no test, so the answer is False. Empty where the translation did not run.
    """
    prefix = f"{column(translation)}_gain"
    if f"{prefix}_p_holm" not in table:
        return {}
    part = table[(table.shots > 0) & (table.shots <= max_shots)]
    return {int(r["shots"]): mark(r[prefix], r[f"{prefix}_p_holm"]) == "*" for _, r in part.iterrows() if pd.notna(r[prefix])}


def protocol_note(protocol: str, qformer_images_per_class: int | None = None) -> str:
    """How the Q-Former (and mean shift) saw labelled images, in words ("" when unknown)."""
    name = TRANSLATION_LABELS["qformer"]
    if protocol == "train-split":
        if qformer_images_per_class:
            return f"{name} trained on {qformer_images_per_class} labelled images per class (train-split protocol)"
        return f"{name} trained on the labelled training split less validation (train-split protocol)"
    if protocol == "support":
        return f"{name} trained on the k-shot support images only (support protocol)"
    return f"{name} protocol {protocol}" if protocol else ""


def budget_line(table: pd.DataFrame, val_per_class: int | str | None, pruned_with: int | None = None) -> str:
    """The label budget with its total at the fewest and the most shots: "… (1 shot: 5 labels per class; 15 shots: 19)",
    and the training labels that pruned the descriptions, when they did."""
    shots = sorted(int(k) for k in table.shots if k > 0) if "shots" in table else []
    if not shots or val_per_class is None:
        return label_budget(val_per_class, pruned_with)
    ends = [f"{k} shot{'s' if k != 1 else ''}: {k + val_count(val_per_class, k)}" for k in dict.fromkeys([shots[0], shots[-1]])]
    return f"{label_budget(val_per_class)} ({'; '.join(ends)} labels per class)" + (
        f"; descriptions pruned with {pruned_with} training labels per class (Judge with CLIP)" if pruned_with else ""
    )


def legend(table: pd.DataFrame, val_per_class: int | str | None = None, pruned_with: int | None = None) -> list[str]:
    """The lines that say how to read Table 1 (each under 150 characters), for the text table and a page caption."""
    lines = [SD_LEGEND, TEXTS_LEGEND, GAIN_LEGEND, STRONGEST_LEGEND, STAR_LEGEND]
    if any(c.endswith("_edge") for c in table):
        lines.append(EDGE_LEGEND)
    heads = {h for h in table.get("head", pd.Series(dtype=object)).dropna() if h}
    lines += [f"image only and every translation: the adapter started from the {HEAD_LABELS.get(h, h)} ({h} head)" for h in sorted(heads)]
    return lines + [budget_line(table, val_per_class, pruned_with)]


def _texts(r: pd.Series, key: str) -> str:
    """ "4", or "4; 2–8" when the seeds chose different counts (median; min–max)."""
    median = float(r[key])
    text = str(int(median)) if median.is_integer() else f"{median:.1f}"
    low, high = r.get(f"{key}_min"), r.get(f"{key}_max")
    return f"{text}; {int(low)}–{int(high)}" if pd.notna(low) and pd.notna(high) and low != high else text


def _accuracy_cell(r: pd.Series, key: str, texts_key: str | None = None) -> str:
    """ "62.67 ± 8.22 (4; 2–8)": mean ± sample SD (no SD with one seed), the chosen texts, "edge" for a grid edge."""
    if key not in r or pd.isna(r[key]):
        return "-"
    std = r.get(f"{key}_std")
    text = f"{r[key]:.2f} ± {std:.2f}" if pd.notna(std) else f"{r[key]:.2f}"
    if texts_key and texts_key in r and pd.notna(r[texts_key]):
        text += f" ({_texts(r, texts_key)})"
    edge = r.get(f"{key}_edge")
    return text + (" edge" if edge is not None and pd.notna(edge) and bool(edge) else "")


def _paired_cell(r: pd.Series, prefix: str) -> str:
    """'+4.10 [+2.03, +6.17]*' (* / † by Holm), '+4.10 [1 seed: no interval]', or '' when missing."""
    if prefix not in r or pd.isna(r[prefix]):
        return ""
    low, high = r[f"{prefix}_low"], r[f"{prefix}_high"]
    if pd.isna(low):
        return f"{r[prefix]:+.2f} [1 seed: no interval]"
    return f"{r[prefix]:+.2f} [{low:+.2f}, {high:+.2f}]" + mark(r[prefix], r.get(f"{prefix}_p_holm", np.nan))


def _table_columns(table: pd.DataFrame) -> list[tuple[str, str, str | None, str | None]]:
    """(header, accuracy column, text-count column, translation prefix) for image only, each translation and the oracle."""
    cols: list[tuple[str, str, str | None, str | None]] = [("image only", "image_only", None, None)]
    for t in TRANSLATIONS:
        if f"{column(t)}_texts" in table:
            cols.append((f"+ {TRANSLATION_LABELS[t]} text (texts)", column(t), f"{column(t)}_texts", column(t)))
    if "qformer_oracle" in table:
        cols.append((f"+ {TRANSLATION_LABELS['qformer']} oracle", "qformer_oracle", "qformer_oracle_texts", None))
    return cols


def _baseline_columns(table: pd.DataFrame) -> list[str]:
    """The baselines a table holds, less image only on the sweep's head (that is the "image only" column)."""
    heads = {init_column(h) for h in table.get("head", pd.Series(dtype=object)).dropna() if h}
    return [b for b in BASELINES if b in table and b not in heads and table[b].notna().any()]


def _grid_lines(grid: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
    return ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)).rstrip() for row in grid]


def _translation_grid(shots: pd.DataFrame, cols: list[tuple[str, str, str | None, str | None]]) -> list[str]:
    """Per shot count: accuracies, gains over image only, gains over the strongest baseline."""
    grid = [["shots", *[h for h, *_ in cols]]]
    for _, r in shots.iterrows():
        grid.append([str(int(r["shots"])), *[_accuracy_cell(r, k, tk) for _, k, tk, _ in cols]])
        for label, family in (("gain:", "gain"), ("vs strongest:", "vs_strongest")):
            if any(g and f"{g}_{family}" in r and pd.notna(r[f"{g}_{family}"]) for *_, g in cols):
                grid.append(["", label, *[_paired_cell(r, f"{g}_{family}") if g else "" for *_, g in cols[1:]]])
    return _grid_lines(grid)


def _strongest_label(r: pd.Series) -> str:
    """The strongest baseline of a row by name ("image only" when it is image only on the sweep's head; "-" if none)."""
    name = r.get("strongest_baseline")
    if name is None or pd.isna(name):
        return "-"
    return "image only" if pd.notna(r.get("head")) and name == init_column(r["head"]) else baseline_label(name)


def _baseline_grid(shots: pd.DataFrame, names: list[str]) -> list[str]:
    """Per shot count: the strongest baseline's name and every baseline's accuracy."""
    grid = [["shots", "strongest", *[baseline_label(b) for b in names]]]
    for _, r in shots.iterrows():
        grid.append([str(int(r["shots"])), _strongest_label(r), *[_accuracy_cell(r, b) for b in names]])
    return ["baselines (image only on another head, and methods without text):", *_grid_lines(grid)]


def _qformer_vs_mean_shift(shots: pd.DataFrame) -> list[str]:
    """One line per shot count: the paired Q-Former minus mean-shift gain, each at its per-seed text count."""
    if QF_VS_MS not in shots or shots[QF_VS_MS].isna().all():
        return []
    name = f"{TRANSLATION_LABELS['qformer']} − {TRANSLATION_LABELS['mean-shift']}"
    lines = [f"{name}, paired per seed, each at its chosen text count (points [95% t-interval]; Holm across shot counts):"]
    for _, r in shots.iterrows():
        if pd.notna(r[QF_VS_MS]):
            p = r.get(f"{QF_VS_MS}_p_holm", np.nan)
            lines.append(f"  {shots_text([int(r['shots'])])}: {_paired_cell(r, QF_VS_MS)}" + (f"  (Holm p {p:.3f})" if pd.notna(p) else ""))
    return lines


def format_table1(
    table: pd.DataFrame, qformer_images_per_class: int | None = None, val_per_class: int | str | None = None, pruned_with: int | None = None
) -> str:
    """Table 1 as text: translations beside image only (gains over it and over the strongest baseline), the
    baselines, Q-Former vs mean shift, the legend with the label budget, and the verdict.

    Args:
        qformer_images_per_class: labelled images per class the Q-Former saw (config.json), for the protocol line.
        val_per_class: validation images per class of the sweep (an int, or "k": as many as the shots).
        pruned_with: training labels per class that pruned the descriptions (Judge with CLIP), if any (config.json).
    """
    shots = table[table.shots > 0] if "shots" in table else table
    cols = _table_columns(table)
    lines = []
    if len(shots):
        lines += _translation_grid(shots, cols)
        names = _baseline_columns(table)
        lines += _baseline_grid(shots, names) if names else []
        lines += _qformer_vs_mean_shift(shots)
        lines += legend(table, val_per_class, pruned_with)
    else:
        lines.append("no few-shot results yet")
    protocols = {p for p in table.get("protocol", pd.Series(dtype=object)).dropna() if p}
    lines += [protocol_note(p, qformer_images_per_class) for p in sorted(protocols) if len(cols) > 1]
    if "zero_shot" in table and len(table):
        lines.append(f"zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}")
    if "description_zero_shot" in table and len(table):
        texts = _texts(table.iloc[0], "description_zero_shot_texts")
        lines.append(
            f"description zero-shot (CuPL-style, {texts} texts/class, chosen per seed on validation): {table.description_zero_shot.iloc[0]:.2f}"
        )
    if len(cols) > 1 and len(shots):
        lines += textwrap.wrap("verdict: " + table_verdict(table), 150)
    return "\n".join(lines)


def table_verdict(table: pd.DataFrame) -> str:
    """``verdict`` of a Table 1 (as ``summary_json`` would give it), for the text table and the pages."""
    return verdict({"rows": summary_rows(table)})


def table1_display(table: pd.DataFrame, val_per_class: int | str | None = None) -> pd.DataFrame:
    """Table 1 with formatted cells for a page: each translation's accuracy (texts) beside its gains [95% CI],
    the oracle, the strongest baseline and every baseline, Q-Former − mean-shift, and the label budget."""
    shots = table[table.shots > 0] if "shots" in table else table
    names = _baseline_columns(table)
    versus = f"{TRANSLATION_LABELS['qformer']} − {TRANSLATION_LABELS['mean-shift']} [95% CI]"
    out = []
    for _, r in shots.iterrows():
        row = {"shots": int(r["shots"]), "seeds": int(r["seeds"])}
        for header, key, texts_key, prefix in _table_columns(table):
            row[header] = _accuracy_cell(r, key, texts_key)
            if prefix:
                short = header.split(" (")[0]
                row[f"{short} gain [95% CI]"] = _paired_cell(r, f"{prefix}_gain") or "-"
                row[f"{short} vs strongest [95% CI]"] = _paired_cell(r, f"{prefix}_vs_strongest") or "-"
        row["strongest baseline"] = _strongest_label(r)
        row |= {baseline_label(b): _accuracy_cell(r, b) for b in names}
        if QF_VS_MS in table:
            row[versus] = _paired_cell(r, QF_VS_MS) or "-"
        v = val_count(val_per_class, int(r["shots"]))
        row["label budget per class"] = f"{int(r['shots'])} support + {v if v is not None else '?'} validation"
        out.append(row)
    return pd.DataFrame(out)


def _prediction_keys(setting: str, seed: int, choices: dict[int, int], head: str) -> list[str]:
    """Stored prediction keys of a setting for one seed (``units.prediction_key``).

    ``choices``: seed -> chosen text count (translations); ``head``: the sweep's head, whose image only is "adapter-0".
    """
    if setting == "image_only":
        return ["adapter-0"]
    if setting in TRANSLATIONS:
        m = choices.get(int(seed))
        return [] if m is None else [f"adapter-{setting}-{m}"]
    if setting.endswith("_init"):  # image only on a head: "adapter-0" on the sweep's own head, "adapter-0@<head>" on another
        other = next((h for h in ("descriptions", "zeroshot", "zeros") if init_column(h) == setting), setting.removesuffix("_init"))
        return ["adapter-0"] if other == head else [f"adapter-0@{other}"]
    return [setting]


def selected_predictions(run: RunFolder, results: pd.DataFrame, shots: int, setting: str) -> list[np.ndarray]:
    """Test predictions of every seed for one Table 1 cell.

    ``setting``: "image_only", a translation ("raw", "mean-shift", "qformer": each seed's text count chosen
    on its validation set, as in Table 1), a baseline method ("linear-probe", "tip-adapter", "gda", …),
    image only on a head ("description_init", "zeroshot_init") or "zeroshot".
    """
    if setting == "zeroshot":
        return [p["zeroshot"] for p in [run.predictions("zeroshot")] if "zeroshot" in p]
    choices = chosen_text_counts(results, shots, setting) if setting in TRANSLATIONS else {}
    head = primary_head(with_translation(results))
    preds = []
    for seed in sorted(results[results.shots == shots].seed.unique()):
        stored = run.predictions(f"{shots:02d}-{seed}")
        found = next((stored[k] for k in _prediction_keys(setting, seed, choices, head) if k in stored), None)
        if found is not None:
            preds.append(found)
    return preds


def per_class_report(run_dir: Path | str, results: pd.DataFrame, shots: int, setting: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-class test accuracy (mean over seeds), the most frequent confusions, misclassified examples.

    ``setting``: image only, a translation, a baseline method, image only on a head or zero-shot (see ``selected_predictions``).

    Returns:
        per_class: columns class, accuracy (%), images; sorted worst first.
        confusions: columns true, predicted, count (summed over seeds), most frequent first.
        examples: up to 12 test images of the top confusion (the first row of ``confusions``), from every
            seed, first seed first: path, true, predicted.
    """
    run = RunFolder(run_dir)
    index = read_json(run.path / "test_index.json")
    names, labels = index["class_names"], np.asarray(index["labels"])
    preds = selected_predictions(run, results, shots, setting)
    if not preds:
        raise FewShotError("This run has no stored predictions for that setting (it predates them, or the method was not run).")
    correct = np.mean([p == labels for p in preds], axis=0)  # (N,) share of seeds right
    per_class = pd.DataFrame(
        {
            "class": names,
            "accuracy": [100 * correct[labels == c].mean() if (labels == c).any() else np.nan for c in range(len(names))],
            "images": np.bincount(labels, minlength=len(names)),
        }
    )
    wrong = np.concatenate([np.stack([labels[p != labels], p[p != labels]], 1) for p in preds])
    pairs, counts = np.unique(wrong, axis=0, return_counts=True) if len(wrong) else (np.zeros((0, 2), int), np.zeros(0, int))
    order = np.argsort(-counts)[:15]
    confusions = pd.DataFrame({"true": [names[t] for t, _ in pairs[order]], "predicted": [names[q] for _, q in pairs[order]], "count": counts[order]})
    paths = index.get("paths") or []
    top = [int(i) for p in preds for i in np.flatnonzero((labels == pairs[order[0]][0]) & (p == pairs[order[0]][1]))] if len(order) else []
    examples = [
        {"path": paths[i] if paths else None, "true": names[labels[i]], "predicted": names[pairs[order[0]][1]]} for i in list(dict.fromkeys(top))[:12]
    ]
    return per_class.sort_values("accuracy").reset_index(drop=True), confusions, examples
