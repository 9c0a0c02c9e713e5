"""What Table 1 says in words and JSON: the labels, the label budget, ``summary_json``, the verdict and its stability.

The verdict reads only the summary (the JSON ``reproduce --json`` prints), so it can be recomputed from a
stored summary, and two summaries of the same sweep (e.g. under another adapter batch seed) compared.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .comparisons import BASELINES, FAMILIES, QF_VS_MS, TRANSLATIONS, column, init_column, table1
from .stats import mark
from .translations import TRANSLATION_LABELS  # how each translation is shown everywhere: its registry entry (translations.py)

BASELINE_LABELS = {
    "description_init": "description-init adapter",  # image only, adapter started from each class's mean description embedding
    "zeroshot_init": "class-name-init adapter",  # image only, adapter started from the class-name prompts
    "linear_probe": "linear probe",
    "tip_adapter": "Tip-Adapter",
    "tip_adapter_f": "Tip-Adapter-F",
    "gda": "GDA",
    "lp++": "LP++",
}
HEAD_LABELS = {"zeroshot": "class-name prompts", "descriptions": "descriptions' mean embedding", "zeros": "all-zero weights"}
COMPARISONS = {"gain": "image only", "vs_strongest": "strongest baseline", QF_VS_MS: "mean-shift"}  # what each family compares with


def baseline_label(name: str) -> str:
    """The shown name of a baseline ("gda" -> "GDA"; an image-only adapter on an unknown head by its head)."""
    return BASELINE_LABELS.get(name, name.replace("_init", "-init adapter"))


def _versus(row: dict[str, Any]) -> str:
    """The strongest baseline of a summary row in a sentence: "image only" when it is image only on the sweep's own
    head, "the linear probe", "GDA"."""
    name = row["strongest_baseline"]["name"]
    if row.get("head") and name == init_column(row["head"]):
        return "image only"
    label = baseline_label(name)
    return f"the {label}" if label[0].islower() else label


def val_count(val_per_class: int | str | None, shots: int) -> int | None:
    """Validation labels per class at a shot count: ``val_per_class``, or the shots under "k" (None if unknown)."""
    if val_per_class is None:
        return None
    return shots if str(val_per_class) == "k" else int(val_per_class)


def label_budget(val_per_class: int | str | None, pruned_with: int | None = None) -> str:
    """ "label budget: k support + 4 validation labels per class" ("k + k" under k-shot validation; "?" if unrecorded),
    plus the training labels per class that pruned the descriptions (Judge with CLIP) when they did."""
    text = f"label budget: k support + {'?' if val_per_class is None else val_per_class} validation labels per class"
    return text + (f"; descriptions pruned with {pruned_with} training labels per class (Judge with CLIP)" if pruned_with else "")


def pruned_with(config: dict[str, Any]) -> int | None:
    """Training labels per class that pruned the run's descriptions (Judge with CLIP), from its config.json; None if none."""
    return config.get("descriptions_pruned_with_labels_per_class")


def _number(x: Any, digits: int = 4) -> float | None:
    return None if x is None or pd.isna(x) else round(float(x), digits)


def _count(x: float) -> int | float:
    """A median text count: whole when it is (an even number of seeds can give x.5)."""
    return int(x) if float(x).is_integer() else float(x)


def _paired_json(r: pd.Series, prefix: str) -> dict[str, Any]:
    return {
        "gain": _number(r[prefix]),
        "gain_ci95": [_number(r[f"{prefix}_low"]), _number(r[f"{prefix}_high"])],
        "p": _number(r[f"{prefix}_p"], 6),
        "p_holm": _number(r.get(f"{prefix}_p_holm"), 6),
    }


def _translation_json(r: pd.Series, t: str) -> dict[str, Any]:
    c = column(t)
    cell = {"mean": _number(r[c]), "std": _number(r[f"{c}_std"]), "texts": _count(r[f"{c}_texts"])}
    cell |= {"texts_range": [int(r[f"{c}_texts_min"]), int(r[f"{c}_texts_max"])], **_paired_json(r, f"{c}_gain")}
    if f"{c}_vs_strongest" in r and pd.notna(r[f"{c}_vs_strongest"]):
        cell["vs_strongest"] = _paired_json(r, f"{c}_vs_strongest")
    return cell


def _baselines_json(r: pd.Series) -> dict[str, Any]:
    out = {}
    for name in BASELINES:
        if name in r and pd.notna(r[name]):
            out[name] = {"mean": _number(r[name]), "std": _number(r[f"{name}_std"])}
            if f"{name}_edge" in r and pd.notna(r[f"{name}_edge"]):
                out[name]["at_grid_edge"] = bool(r[f"{name}_edge"])
    return out


def summary_rows(table: pd.DataFrame, val_per_class: int | str | None = None) -> list[dict[str, Any]]:
    """The rows of ``summary_json`` from a Table 1 (one per shot count > 0)."""
    rows = []
    for _, r in table[table.shots > 0].iterrows() if len(table) else []:
        k = int(r["shots"])
        row: dict[str, Any] = {"shots": k, "seeds": int(r["seeds"]), "head": r.get("head")}
        row["label_budget"] = {"support": k, "validation": val_count(val_per_class, k)}
        row["image_only"] = [_number(r.get("image_only")), _number(r.get("image_only_std"))]
        row["translations"] = {t: _translation_json(r, t) for t in TRANSLATIONS if f"{column(t)}_texts" in r and pd.notna(r[f"{column(t)}_texts"])}
        row["baselines"] = _baselines_json(r)
        if pd.notna(r.get("strongest_baseline")):
            row["strongest_baseline"] = {"name": r["strongest_baseline"], "mean": _number(r["strongest_baseline_mean"])}
        if pd.notna(r.get(QF_VS_MS)):
            row[QF_VS_MS] = _paired_json(r, QF_VS_MS)
        rows.append(row)
    return rows


def summary_json(results: pd.DataFrame, config: dict[str, Any], num_classes: int | None = None) -> dict[str, Any]:
    """The machine-readable Table 1 that ``reproduce --json`` prints (accuracies in %, gains in points).

    Keys: dataset, protocol, seeds (how many), num_classes, zero_shot (test %), rows, multiple_comparisons
    ("holm"), label_budget, qformer_vs_mean_shift, verdict. A row: shots, seeds, head, label_budget {support,
    validation}, image_only [mean, std], translations {name: {mean, std, texts (median of the seeds'
    choices), texts_range, gain, gain_ci95, p, p_holm, vs_strongest {gain, gain_ci95, p, p_holm}}}, baselines
    {name: {mean, std[, at_grid_edge]}}, strongest_baseline {name, mean}. "±" is the sample SD; bounds and
    p-values are null where one seed gives none.
    """
    table = table1(results)
    sweep = config.get("sweep", {})
    protocols = sorted({p for p in table.get("protocol", pd.Series(dtype=object)).dropna() if p})
    seeds = sweep.get("seeds")
    rows = summary_rows(table, sweep.get("val_per_class"))
    summary = {
        "dataset": config.get("dataset") or (str(results.dataset.iloc[0]) if len(results) else None),
        "protocol": sweep.get("protocol") or "+".join(protocols) or None,
        "seeds": len(seeds) if seeds is not None else int(results.seed.nunique()),
        "num_classes": num_classes if num_classes is not None else config.get("features", {}).get("num_classes"),
        "zero_shot": _number(table.zero_shot.iloc[0]) if "zero_shot" in table and len(table) else None,
        "rows": rows,
        "multiple_comparisons": "holm",
        "label_budget": label_budget(sweep.get("val_per_class"), pruned_with(config)).removeprefix("label budget: "),
        "descriptions_pruned_with_labels_per_class": pruned_with(config),
        QF_VS_MS: [{"shots": r["shots"], **r[QF_VS_MS]} for r in rows if QF_VS_MS in r],
    }
    summary["verdict"] = verdict(summary)
    return summary


def shots_text(shots: list[int]) -> str:
    """[1] -> "1 shot", [1, 2, 4] -> "1, 2 and 4 shots"."""
    listed = ", ".join(str(k) for k in shots[:-1]) + (" and " if len(shots) > 1 else "") + str(shots[-1])
    return f"{listed} shot" + ("s" if len(shots) > 1 or shots[-1] != 1 else "")


def _where(cells: list[tuple[int, str]], rows: list[dict[str, Any]] | None = None) -> str:
    """(shots, translation) cells as "Q-Former at 1 and 2 shots and raw at 4 shots"; with the table's ``rows``, a
    translation marked at all of its shot counts is "at every shot count", and all of them "every translation"."""
    by: dict[str, list[int]] = {}
    for k, t in cells:
        by.setdefault(t, []).append(k)
    every = {t: sorted(r["shots"] for r in rows if t in r["translations"]) for t in by} if rows else {}
    full = [t for t, ks in by.items() if every and sorted(ks) == every[t] and len(ks) > 1]
    run = {t for r in rows or [] for t in r["translations"]}
    if rows and len(full) == len(by) == len(run) > 1:
        return "every translation at every shot count"
    groups: dict[str, list[str]] = {}  # translations marked at the same shot counts are named together
    for t, ks in by.items():
        groups.setdefault("every shot count" if t in full else shots_text(sorted(ks)), []).append(TRANSLATION_LABELS[t])
    return "; ".join(f"{_and(names)} at {where}" for where, names in groups.items())


def _verb(cells: list[tuple[int, str]], verb: str, rows: list[dict[str, Any]] | None = None) -> str:
    """``verb`` agreeing with how ``_where`` names the cells: "beats" for one translation (or "every translation"),
    "beat" for several named."""
    return verb + "s" if len({t for _, t in cells}) == 1 or _where(cells, rows).startswith("every translation") else verb


def _and(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _marked(rows: list[dict[str, Any]], family: str, sign: str) -> list[tuple[int, str]]:
    """(shots, translation) of every cell of a family carrying ``sign`` ("*" or "†")."""
    found = []
    for r in rows:
        for t, c in r["translations"].items():
            cell = c if family == "gain" else c.get(family, {})
            if mark(cell.get("gain", math.nan), cell.get("p_holm", math.nan)) == sign:
                found.append((r["shots"], t))
    return found


def _over_image_only(rows: list[dict[str, Any]]) -> tuple[str, bool]:
    """The verdict's first clause and whether it is good news for text."""
    helped, hurt = _marked(rows, "gain", "*"), _marked(rows, "gain", "†")
    if helped and hurt:
        return (
            f"Text helps and hurts: {_where(helped, rows)} {_verb(helped, 'beat', rows)} image only and {_where(hurt, rows)} "
            f"{_verb(hurt, 'fall', rows)} below it after Holm correction"
        ), True
    if helped:
        return f"Text helps here: {_where(helped, rows)} {_verb(helped, 'beat', rows)} image only after Holm correction", True
    if hurt:
        return f"Text hurts here: {_where(hurt, rows)} {_verb(hurt, 'fall', rows)} below image only after Holm correction", False
    return "Text does not help here: no translation beats image only at any shot count after Holm correction", False


def _over_strongest(rows: list[dict[str, Any]]) -> tuple[str, bool]:
    """The verdict's second clause: the best translation against the strongest baseline, and whether text wins."""
    beats = _marked(rows, "vs_strongest", "*")
    if beats:
        k, t = beats[0]
        r = next(r for r in rows if r["shots"] == k)
        b, cell = r["strongest_baseline"], r["translations"][t]
        return (
            f"{_where(beats, rows)} also {_verb(beats, 'beat', rows)} the strongest baseline after Holm correction "
            f"(at {shots_text([k])} {cell['mean']:.1f} % vs {_versus(r)} {b['mean']:.1f} %)"
        ), True
    compared = [r for r in rows if "strongest_baseline" in r]
    if not compared:
        return "no baseline ran to compare with", False
    # name the strongest baseline where it beats even the best translation after Holm correction, else at the fewest shots
    r = next((r for r in compared if _behind(_best_translation(r)[1])), compared[0])
    t, cell = _best_translation(r)
    b, at = r["strongest_baseline"], shots_text([r["shots"]])
    if b["mean"] > (cell["mean"] or -math.inf):
        significant = " after Holm correction" if _behind(cell) else ""
        return (
            f"{_versus(r)} (at {at} {b['mean']:.1f} %) beats the best translation ({TRANSLATION_LABELS[t]}, {cell['mean']:.1f} %){significant}",
            False,
        )
    return (
        f"the best translation ({TRANSLATION_LABELS[t]}, at {at} {cell['mean']:.1f} %) is not reliably above {_versus(r)} ({b['mean']:.1f} %)",
        False,
    )


def _best_translation(row: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, cell) of the translation with the highest mean test accuracy in a summary row."""
    return max(row["translations"].items(), key=lambda item: -math.inf if item[1]["mean"] is None else item[1]["mean"])


def _behind(cell: dict[str, Any]) -> bool:
    """Whether a translation's cell is significantly below the strongest baseline (its vs_strongest mark is †)."""
    versus = cell.get("vs_strongest") or {}
    return mark(versus.get("gain", math.nan), versus.get("p_holm", math.nan)) == "†"


def verdict(summary: dict[str, Any]) -> str:
    """One or two plain sentences that the numbers of a summary give: does text help, and against the strongest baseline.

    "Helps" and "hurts" are the Holm-corrected marks (``stats.mark``) of the paired gains over image only; the
    strongest baseline is named at a shot count where a translation beats it, else at the fewest shots.
    """
    rows = [r for r in summary.get("rows", []) if r.get("translations")]
    if not rows:
        return "No verdict yet: the run has no few-shot results with translated text."
    first, good = _over_image_only(rows)
    second, wins = _over_strongest(rows)
    return f"{first}, {'and' if good == wins else 'but'} {second}."


def _marks(summary: dict[str, Any]) -> dict[tuple[int, str, str], str]:
    """(shots, translation, compared with) -> the cell's mark ("*", "†" or "") for every paired cell of a summary."""
    found = {}
    for r in summary.get("rows", []):
        for t, c in r.get("translations", {}).items():
            for family in FAMILIES:
                cell = c if family == "gain" else c.get(family)
                if cell is not None:
                    found[(r["shots"], t, COMPARISONS[family])] = mark(cell.get("gain", math.nan), cell.get("p_holm", math.nan))
    for q in summary.get(QF_VS_MS, []):
        found[(q["shots"], "qformer", COMPARISONS[QF_VS_MS])] = mark(q.get("gain", math.nan), q.get("p_holm", math.nan))
    return found


def compare_verdicts(summary_a: dict[str, Any], summary_b: dict[str, Any]) -> dict[str, Any]:
    """Whether two summaries of the same sweep (e.g. another adapter batch seed) mark the same cells.

    Returns ``{"stable": bool, "changed": [...]}``; each changed cell is ``{"shots", "translation", "versus",
    "a", "b"}`` with its mark in each ("*" gain, "†" harm, "" neither; null where a summary lacks the cell).
    """
    a, b = _marks(summary_a), _marks(summary_b)
    changed = [
        {"shots": k, "translation": t, "versus": versus, "a": a.get(key), "b": b.get(key)}
        for key in dict.fromkeys([*a, *b])
        for k, t, versus in [key]
        if a.get(key) != b.get(key)
    ]
    return {"stable": not changed, "changed": changed}
