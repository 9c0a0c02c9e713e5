"""What a run's results say: Table 1 (validation and oracle selection), its text form, per-class views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import FewShotError
from .runs import RunFolder
from .storage import read_json


def select_text_count(results: pd.DataFrame, shots: int | None = None, by: str = "val_acc") -> int | None:
    """The text count (> 0) of the adapter with the best mean ``by`` over seeds (None if there is none).

    ``by="val_acc"`` is the honest choice; ``"test_acc"`` is the paper's oracle.
    """
    cells = results[(results.method == "adapter") & (results.texts > 0)]
    if shots is not None:
        cells = cells[cells.shots == shots]
    if cells.empty:
        return None
    return int(cells.groupby("texts")[by].mean().idxmax())


def _mean_std(values: pd.Series) -> tuple[float, float]:
    return float(values.mean() * 100), float(values.std(ddof=0) * 100) if len(values) > 1 else 0.0


def table1(results: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from a results table: one row per shot count, accuracies in %.

    ``image_text_val`` picks the text count (> 0) with the best mean *validation* accuracy over seeds
    (the honest default); ``image_text_oracle`` the one with the best mean *test* accuracy, as the
    paper did. ``*_std`` is the standard deviation over seeds.
    """
    adapter = results[results.method == "adapter"]
    rows = []
    for shots in sorted(adapter.shots.unique()):
        at = adapter[adapter.shots == shots]
        row: dict[str, Any] = {"shots": int(shots), "seeds": int(at.seed.nunique())}
        row["image_only"], row["image_only_std"] = _mean_std(at[at.texts == 0].test_acc)
        for how, column in (("val", "val_acc"), ("oracle", "test_acc")):
            m = select_text_count(at, by=column)
            if m is not None:
                row[f"image_text_{how}"], row[f"image_text_{how}_std"] = _mean_std(at[at.texts == m].test_acc)
                row[f"texts_{how}"] = m
        for method in ("linear-probe", "tip-adapter"):
            part = results[(results.method == method) & (results.shots == shots)]
            if len(part):
                row[method.replace("-", "_")], row[method.replace("-", "_") + "_std"] = _mean_std(part.test_acc)
        rows.append(row)
    table = pd.DataFrame(rows)
    zs = results[results.method == "zeroshot"]
    if len(zs):
        table["zero_shot"] = float(zs.test_acc.iloc[0] * 100)
    dzs = results[results.method == "description-zeroshot"]
    if len(dzs):
        best = dzs.groupby("texts")[["val_acc", "test_acc"]].mean()
        m = int(best.val_acc.idxmax())
        table["description_zero_shot"], table["description_zero_shot_texts"] = float(best.test_acc[m] * 100), m
    return table


def format_table1(table: pd.DataFrame) -> str:
    """Table 1 as aligned text: "mean ± std", text counts in brackets as in the paper."""
    cell = lambda r, k: f"{r[k]:.2f} ± {r[k + '_std']:.2f}" if k in r and pd.notna(r[k]) else "-"  # noqa: E731
    lines = [f"{'shots':>5}  {'image only':>15}  {'image+text (val)':>22}  {'image+text (oracle)':>22}  {'linear probe':>15}  {'Tip-Adapter':>15}"]
    for _, r in table.iterrows():
        val = f"{cell(r, 'image_text_val')} ({int(r['texts_val'])})" if "texts_val" in r and pd.notna(r.get("texts_val")) else "-"
        orc = f"{cell(r, 'image_text_oracle')} ({int(r['texts_oracle'])})" if "texts_oracle" in r and pd.notna(r.get("texts_oracle")) else "-"
        lines.append(
            f"{int(r['shots']):>5}  {cell(r, 'image_only'):>15}  {val:>22}  {orc:>22}  {cell(r, 'linear_probe'):>15}  {cell(r, 'tip_adapter'):>15}"
        )
    if "zero_shot" in table:
        lines.append(f"zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}")
    if "description_zero_shot" in table:
        lines.append(
            f"description zero-shot (CuPL-style, {int(table.description_zero_shot_texts.iloc[0])} texts/class, val-selected): {table.description_zero_shot.iloc[0]:.2f}"
        )
    return "\n".join(lines)


def text_helped(table: pd.DataFrame, max_shots: int = 4) -> dict[int, bool]:
    """Per shot count up to ``max_shots``: did validation-selected text beat image only on test?"""
    part = table[table.shots <= max_shots]
    return {int(r.shots): bool(r.image_text_val > r.image_only) for r in part.itertuples() if "image_text_val" in table}


def selected_predictions(run: RunFolder, results: pd.DataFrame, shots: int, setting: str) -> list[np.ndarray]:
    """Test predictions of every seed for one Table 1 cell.

    ``setting``: "image_only", "image_text_val" (text count chosen on validation), "linear-probe",
    "tip-adapter" or "zeroshot".
    """
    if setting == "zeroshot":
        return [p["zeroshot"] for p in [run.predictions("zeroshot")] if "zeroshot" in p]
    key = setting
    if setting in ("image_only", "image_text_val"):
        texts = select_text_count(results, shots) if setting == "image_text_val" else 0
        key = f"adapter-{texts}"
    seeds = sorted(results[results.shots == shots].seed.unique())
    preds = [run.predictions(f"{shots:02d}-{s}").get(key) for s in seeds]
    return [p for p in preds if p is not None]


def per_class_report(run_dir: Path | str, results: pd.DataFrame, shots: int, setting: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-class test accuracy (mean over seeds), the most frequent confusions, misclassified examples.

    Returns:
        per_class: columns class, accuracy (%), images; sorted worst first.
        confusions: columns true, predicted, count (summed over seeds), most frequent first.
        examples: up to 12 misclassified test images of the first seed: path, true, predicted.
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
    first = preds[0]
    examples = [
        {"path": paths[i] if paths else None, "true": names[labels[i]], "predicted": names[first[i]]} for i in np.flatnonzero(first != labels)[:12]
    ]
    return per_class.sort_values("accuracy").reset_index(drop=True), confusions, examples
