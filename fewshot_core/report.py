"""What a run's results say: Table 1 per translation with paired gains, its text and JSON forms, per-class views.

Table 1 has one row per shot count (a run with only zero-shot results: one row with shots 0). Accuracies
are test accuracies in %, mean and standard deviation (ddof 0) over seeds. For every translation of the
descriptions (``raw``, ``mean-shift``, ``qformer``) the text count is chosen on validation, and the gain
over image only is paired by seed (same support set) with a 95% t-interval over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import FewShotError
from .runs import RESULT_COLUMNS, RunFolder
from .storage import read_json

TRANSLATIONS = ("raw", "mean-shift", "qformer")  # how descriptions become image-space features, in display order
REFERENCES = ("linear-probe", "tip-adapter")  # few-shot baselines without text


def column(translation: str) -> str:
    """The Table 1 column prefix of a translation or method: "mean-shift" -> "mean_shift"."""
    return translation.replace("-", "_")


def with_translation(results: pd.DataFrame) -> pd.DataFrame:
    """The results with a complete ``translation`` column.

    Tables from before the column (or with it empty) get "none" for adapter rows with 0 texts and
    "qformer" for adapter rows with texts (the only translation there was); other methods get "".
    """
    df = results.reindex(columns=list(dict.fromkeys([*RESULT_COLUMNS, *results.columns])))  # an empty frame gets the columns
    given = df["translation"].astype(object).fillna("").astype(str) if "translation" in df else pd.Series("", index=df.index)
    adapter = (df["method"] == "adapter").to_numpy()
    fallback = np.where(df["texts"].to_numpy() > 0, "qformer", "none") if len(df) else np.array([], dtype=object)
    filled = np.where(given.to_numpy() == "", fallback, given.to_numpy())
    df["translation"] = np.where(adapter, filled, "").astype(object)
    return df


def select_text_count(results: pd.DataFrame, shots: int | None = None, by: str = "val_acc", translation: str = "qformer") -> int | None:
    """The text count (> 0) of the adapter with the best mean ``by`` over seeds for one translation (None if none).

    ``by="val_acc"`` is the honest choice; ``"test_acc"`` is the paper's oracle. Ties go to the fewest texts.
    """
    df = with_translation(results)
    return _best_texts(df if shots is None else df[df.shots == shots], by, translation)


def _best_texts(df: pd.DataFrame, by: str, translation: str) -> int | None:
    """select_text_count on a table that already has its translation column."""
    cells = df[(df.method == "adapter") & (df.texts > 0) & (df.translation == translation)]
    return None if cells.empty else int(cells.groupby("texts")[by].mean().idxmax())


@dataclass
class PairedGain:
    """The gain of a setting over image only, paired by seed, in accuracy points."""

    mean: float
    low: float  # 95% t-interval over seeds; NaN with fewer than 2 seeds
    high: float
    seeds: int  # seeds with both numbers


def t_interval(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and ``level`` Student-t confidence interval of the mean: (mean, low, high); NaN bounds below 2 values."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def paired_gain(results: pd.DataFrame, shots: int, translation: str, texts: int) -> PairedGain:
    """Test accuracy of ``translation`` with ``texts`` texts minus image only, per seed (points), and its interval."""
    df = with_translation(results)
    return _paired(df[(df.method == "adapter") & (df.shots == shots)], translation, texts)


def _paired(at: pd.DataFrame, translation: str, texts: int) -> PairedGain:
    """paired_gain on the adapter rows of one shot count, translation column filled."""
    base = at[at.texts == 0].groupby("seed").test_acc.mean()
    other = at[(at.translation == translation) & (at.texts == texts)].groupby("seed").test_acc.mean()
    diffs = (other - base).dropna() * 100  # aligned on seed: the same support set
    mean, low, high = t_interval(diffs.to_numpy())
    return PairedGain(mean, low, high, len(diffs))


def _mean_std(values: pd.Series) -> tuple[float, float]:
    if values.empty:
        return math.nan, math.nan
    return float(values.mean() * 100), float(values.std(ddof=0) * 100) if len(values) > 1 else 0.0


def _protocol(rows: pd.DataFrame) -> str:
    """The Q-Former protocol of a set of adapter rows ("" if unknown; several joined by "+")."""
    found = sorted({str(p) for p in rows.get("protocol", pd.Series(dtype=object)).dropna() if str(p)})
    return "+".join(found)


def _translation_cells(at: pd.DataFrame, translation: str) -> dict[str, Any]:
    """Validation-selected accuracy, text count and paired gain of one translation at one shot count."""
    m = _best_texts(at, "val_acc", translation)
    if m is None:
        return {}
    c = column(translation)
    mean, std = _mean_std(at[(at.translation == translation) & (at.texts == m)].test_acc)
    gain = _paired(at, translation, m)
    return {c: mean, f"{c}_std": std, f"{c}_texts": m, f"{c}_gain": gain.mean, f"{c}_gain_low": gain.low, f"{c}_gain_high": gain.high}


def _shot_row(part: pd.DataFrame, translations: list[str]) -> dict[str, Any]:
    """One Table 1 row from every result of one shot count."""
    at = part[part.method == "adapter"]
    row: dict[str, Any] = {"shots": int(part.shots.iloc[0]), "seeds": int(part.seed.nunique()), "protocol": _protocol(at)}
    row["image_only"], row["image_only_std"] = _mean_std(at[at.texts == 0].test_acc)
    for translation in translations:
        row.update(_translation_cells(at, translation))
    m = _best_texts(at, "test_acc", "qformer")
    if m is not None:
        row["qformer_oracle"], row["qformer_oracle_std"] = _mean_std(at[(at.translation == "qformer") & (at.texts == m)].test_acc)
        row["qformer_oracle_texts"] = m
    for method in REFERENCES:
        reference = part[part.method == method]
        if len(reference):
            row[column(method)], row[column(method) + "_std"] = _mean_std(reference.test_acc)
    return row


def table1(results: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from a results table: one row per shot count, accuracies in %, gains in points.

    Columns: ``shots``, ``seeds``, ``protocol``, ``image_only(_std)``; per translation present ``<t>``,
    ``<t>_std``, ``<t>_texts`` (chosen on validation), ``<t>_gain``, ``<t>_gain_low``, ``<t>_gain_high``
    with ``<t>`` in raw, mean_shift, qformer; ``qformer_oracle(_std, _texts)`` (text count chosen on
    test, as the paper did); ``linear_probe(_std)``, ``tip_adapter(_std)``; ``zero_shot``;
    ``description_zero_shot(_texts)``. Missing methods leave their columns out; a run with only
    zero-shot results gives one row with shots 0.
    """
    keep = ["method", "translation", "protocol", "shots", "texts", "seed", "val_acc", "test_acc"]
    df = with_translation(results)[keep].copy()  # only what Table 1 reads: fewer blocks, faster filters
    translations = [t for t in TRANSLATIONS if (df.translation == t).any()]
    rows = [_shot_row(part, translations) for _, part in df[df.shots > 0].groupby("shots", sort=True)]
    table = pd.DataFrame(rows or [{"shots": 0, "seeds": 0, "protocol": ""}])
    zs = df[df.method == "zeroshot"]
    if len(zs):
        table["zero_shot"] = float(zs.test_acc.iloc[0] * 100)
    dzs = df[df.method == "description-zeroshot"]
    if len(dzs):
        best = dzs.groupby("texts")[["val_acc", "test_acc"]].mean()
        m = int(best.val_acc.idxmax())
        table["description_zero_shot"], table["description_zero_shot_texts"] = float(best.test_acc[m] * 100), m
    if not rows and "zero_shot" not in table and "description_zero_shot" not in table:
        return table.iloc[0:0]  # nothing finished yet
    return table


def text_helped(table: pd.DataFrame, max_shots: int = 4, translation: str = "qformer") -> dict[int, bool]:
    """Per shot count up to ``max_shots``: is the 95% interval of the paired gain of ``translation`` above 0?

    With one seed there is no interval, so the answer is False. Empty where the translation did not run.
    """
    low = f"{column(translation)}_gain_low"
    if low not in table:
        return {}
    part = table[(table.shots > 0) & (table.shots <= max_shots)]
    return {int(r["shots"]): bool(pd.notna(r[low]) and r[low] > 0) for _, r in part.iterrows()}


TRANSLATION_LABELS = {"raw": "raw text", "mean-shift": "mean-shift", "qformer": "Q-Former"}
GAIN_LEGEND = "gain: test accuracy minus image only on the same seed (same support set), points, mean [95% t-interval over seeds]"


def protocol_note(protocol: str, qformer_images_per_class: int | None = None) -> str:
    """How the Q-Former (and mean shift) saw labelled images, in words ("" when unknown)."""
    if protocol == "train-split":
        if qformer_images_per_class:
            return f"Q-Former trained on {qformer_images_per_class} labelled images per class (train-split protocol)"
        return "Q-Former trained on the labelled training split less validation (train-split protocol)"
    if protocol == "support":
        return "Q-Former trained on the k-shot support images only (support protocol)"
    return f"Q-Former protocol {protocol}" if protocol else ""


def _accuracy_cell(r: pd.Series, key: str, texts_key: str | None = None) -> str:
    if key not in r or pd.isna(r[key]):
        return "-"
    text = f"{r[key]:.2f} ± {r[key + '_std']:.2f}"
    return f"{text} ({int(r[texts_key])})" if texts_key and texts_key in r and pd.notna(r[texts_key]) else text


def _gain_cell(r: pd.Series, c: str, mark: bool = True) -> str:
    """'+4.10 [+2.03, +6.17]*' (* = interval above 0), '+4.10 [1 seed: no interval]', or '' when missing."""
    if f"{c}_gain" not in r or pd.isna(r[f"{c}_gain"]):
        return ""
    low, high = r[f"{c}_gain_low"], r[f"{c}_gain_high"]
    if pd.isna(low):
        return f"{r[f'{c}_gain']:+.2f} [1 seed: no interval]"
    return f"{r[f'{c}_gain']:+.2f} [{low:+.2f}, {high:+.2f}]" + ("*" if mark and low > 0 else "")


def _table_columns(table: pd.DataFrame) -> list[tuple[str, str, str | None, str | None]]:
    """(header, accuracy column, text-count column, gain prefix) for every method the table holds."""
    cols: list[tuple[str, str, str | None, str | None]] = [("image only", "image_only", None, None)]
    for t in TRANSLATIONS:
        if f"{column(t)}_texts" in table:
            cols.append((f"+ {TRANSLATION_LABELS[t]} (texts)", column(t), f"{column(t)}_texts", column(t)))
    if "qformer_oracle" in table:
        cols.append(("+ Q-Former oracle", "qformer_oracle", "qformer_oracle_texts", None))
    cols += [(h, k, None, None) for h, k in (("linear probe", "linear_probe"), ("Tip-Adapter", "tip_adapter")) if k in table]
    return cols


def format_table1(table: pd.DataFrame, qformer_images_per_class: int | None = None) -> str:
    """Table 1 as aligned text: per shot count a line of "mean ± std (texts)" and a line of paired gains.

    Args:
        qformer_images_per_class: labelled images per class the Q-Former saw (config.json), for the protocol line.
    """
    shots = table[table.shots > 0] if "shots" in table else table
    cols = _table_columns(table)
    lines = []
    if len(shots):
        grid = [["shots", *[h for h, *_ in cols]]]
        for _, r in shots.iterrows():
            grid.append([str(int(r["shots"])), *[_accuracy_cell(r, k, tk) for _, k, tk, _ in cols]])
            if any(g for *_, g in cols):
                grid.append(["", "gain:", *[_gain_cell(r, g) if g else "" for *_, g in cols[1:]]])
        widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
        lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)).rstrip() for row in grid]
        lines.append("test accuracy %, mean ± std over seeds; (texts) = descriptions per class chosen on validation (oracle: on test)")
        if any(g for *_, g in cols):
            lines.append(GAIN_LEGEND + "; * = interval above 0 (text helped)")
    else:
        lines.append("no few-shot results yet")
    protocols = {p for p in table.get("protocol", pd.Series(dtype=object)).dropna() if p}
    lines += [protocol_note(p, qformer_images_per_class) for p in sorted(protocols) if any(g for *_, g in cols)]
    if "zero_shot" in table and len(table):
        lines.append(f"zero-shot CLIP: {table.zero_shot.iloc[0]:.2f}")
    if "description_zero_shot" in table and len(table):
        texts = int(table.description_zero_shot_texts.iloc[0])
        lines.append(f"description zero-shot (CuPL-style, {texts} texts/class, val-selected): {table.description_zero_shot.iloc[0]:.2f}")
    return "\n".join(lines)


def table1_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 with formatted cells for a page: each translation's accuracy (texts) beside its gain [95% CI]."""
    shots = table[table.shots > 0] if "shots" in table else table
    out = []
    for _, r in shots.iterrows():
        row = {"shots": int(r["shots"]), "seeds": int(r["seeds"])}
        for header, key, texts_key, gain in _table_columns(table):
            row[header] = _accuracy_cell(r, key, texts_key)
            if gain:
                row[f"{header.split(' (')[0]} gain [95% CI]"] = _gain_cell(r, gain) or "-"
        out.append(row)
    return pd.DataFrame(out)


def _number(x: Any, digits: int = 4) -> float | None:
    return None if x is None or pd.isna(x) else round(float(x), digits)


def summary_json(results: pd.DataFrame, config: dict[str, Any], num_classes: int | None = None) -> dict[str, Any]:
    """The machine-readable Table 1 that ``reproduce --json`` prints (accuracies in %, gains in points).

    Keys: dataset, protocol, seeds (how many), num_classes, zero_shot (test %), rows (one per shot count:
    shots, image_only [mean, std], translations {name: {mean, std, texts, gain, gain_ci95 [low, high]}}).
    Bounds are null where one seed gives no interval.
    """
    table = table1(results)
    sweep = config.get("sweep", {})
    protocols = sorted({p for p in table.get("protocol", pd.Series(dtype=object)).dropna() if p})
    seeds = sweep.get("seeds")
    rows = []
    for _, r in table[table.shots > 0].iterrows() if len(table) else []:
        translations = {}
        for t in TRANSLATIONS:
            c = column(t)
            if f"{c}_texts" in r and pd.notna(r[f"{c}_texts"]):
                translations[t] = {
                    "mean": _number(r[c]),
                    "std": _number(r[f"{c}_std"]),
                    "texts": int(r[f"{c}_texts"]),
                    "gain": _number(r[f"{c}_gain"]),
                    "gain_ci95": [_number(r[f"{c}_gain_low"]), _number(r[f"{c}_gain_high"])],
                }
        image_only = [_number(r.get("image_only")), _number(r.get("image_only_std"))]
        rows.append({"shots": int(r["shots"]), "image_only": image_only, "translations": translations})
    return {
        "dataset": config.get("dataset") or (str(results.dataset.iloc[0]) if len(results) else None),
        "protocol": sweep.get("protocol") or "+".join(protocols) or None,
        "seeds": len(seeds) if seeds is not None else int(results.seed.nunique()),
        "num_classes": num_classes if num_classes is not None else config.get("features", {}).get("num_classes"),
        "zero_shot": _number(table.zero_shot.iloc[0]) if "zero_shot" in table and len(table) else None,
        "rows": rows,
    }


SETTINGS = ("image_only", *TRANSLATIONS, "linear-probe", "tip-adapter", "zeroshot")  # classifiers per_class_report knows


def _prediction_keys(results: pd.DataFrame, shots: int, setting: str) -> list[str]:
    """Stored prediction keys of a setting, newest naming first ("adapter-<m>" meant the Q-Former before translations)."""
    if setting == "image_only":
        return ["adapter-0"]
    if setting in TRANSLATIONS:
        m = select_text_count(results, shots, translation=setting)
        return [] if m is None else [f"adapter-{setting}-{m}"] + ([f"adapter-{m}"] if setting == "qformer" else [])
    return [setting]


def selected_predictions(run: RunFolder, results: pd.DataFrame, shots: int, setting: str) -> list[np.ndarray]:
    """Test predictions of every seed for one Table 1 cell.

    ``setting``: "image_only", a translation ("raw", "mean-shift", "qformer": text count chosen on
    validation), "linear-probe", "tip-adapter" or "zeroshot".
    """
    if setting == "zeroshot":
        return [p["zeroshot"] for p in [run.predictions("zeroshot")] if "zeroshot" in p]
    keys = _prediction_keys(results, shots, setting)
    preds = []
    for seed in sorted(results[results.shots == shots].seed.unique()):
        stored = run.predictions(f"{shots:02d}-{seed}")
        found = next((stored[k] for k in keys if k in stored), None)
        if found is not None:
            preds.append(found)
    return preds


def per_class_report(run_dir: Path | str, results: pd.DataFrame, shots: int, setting: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Per-class test accuracy (mean over seeds), the most frequent confusions, misclassified examples.

    ``setting``: "image_only", a translation (its text count chosen on validation), "linear-probe",
    "tip-adapter" or "zeroshot" (``SETTINGS``).

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
