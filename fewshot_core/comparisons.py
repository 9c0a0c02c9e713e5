"""Table 1's numbers: per-seed text counts, gains paired by seed, every baseline, the strongest one, Holm's correction.

Table 1 has one row per shot count (a run with only zero-shot results: one row with shots 0). Accuracies
are test accuracies in %, mean and sample SD (ddof 1) over seeds. The sweep's head (the classifier its
adapters start from: class-name prompts or the descriptions' mean) carries every translation; image only
on that head is the reference. For each translation and shot count, every seed chooses its own text count
on its own validation set (ties: fewest texts), and the translation's cell is the mean test accuracy at
those choices; its gain over image only (same head) and over the strongest baseline are paired by seed
(same support set). p-values are Holm-adjusted across a table's cells of one family (gain over image only;
gain over the strongest baseline; Q-Former minus mean shift).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from .errors import FewShotError
from .runs import RESULT_COLUMNS
from .stats import PairedGain, holm, mean_sd, paired
from .translations import TRANSLATIONS  # the registered translations, in display order (live: one registered later is included)

BASELINE_METHODS = {"linear-probe": "linear_probe", "tip-adapter": "tip_adapter", "tip-adapter-f": "tip_adapter_f", "gda": "gda", "lp++": "lp++"}
HEAD_BASELINES = {"descriptions": "description_init", "zeroshot": "zeroshot_init"}  # image-only adapter on a head
BASELINES = ("description_init", "zeroshot_init", "linear_probe", "tip_adapter", "tip_adapter_f", "gda", "lp++")  # display order
DEFAULT_HEAD = "zeroshot"  # the head picked when a run trained no translated adapter
FAMILIES = ("gain", "vs_strongest")  # per translation: paired over image only (same head), over the strongest baseline
QF_VS_MS = "qformer_vs_mean_shift"  # Q-Former minus mean shift, each at its per-seed text count


def column(translation: str) -> str:
    """The Table 1 column prefix of a translation or method: "mean-shift" -> "mean_shift"."""
    return translation.replace("-", "_")


def init_column(head: str) -> str:
    """The baseline name of the image-only adapter on a head: "descriptions" -> "description_init"."""
    return HEAD_BASELINES.get(head, f"{head}_init")


def with_translation(results: pd.DataFrame) -> pd.DataFrame:
    """The results with ``translation`` and ``head`` as text on adapter rows and "" on the others (a table read back
    from CSV holds NaN for ""; an empty one gets the columns).

    Raises:
        FewShotError: adapter rows without a translation or head: results of a version before them, not read here.
    """
    df = results.reindex(columns=list(dict.fromkeys([*RESULT_COLUMNS, *results.columns])))
    adapter = (df["method"] == "adapter").to_numpy()
    for name in ("translation", "head"):
        given = df[name].astype(object).fillna("").astype(str).to_numpy()
        if (adapter & (given == "")).any():
            raise FewShotError(
                f"These results have adapter rows without a {name}: they come from an older version of Few-shot Lab, whose "
                "results this version does not read. Run the sweep again into a new run folder."
            )
        df[name] = np.where(adapter, given, "").astype(object)
    return df


def primary_head(df: pd.DataFrame) -> str:
    """The sweep's head: the one its translated adapters start from (else "zeroshot" if present, else any)."""
    adapter = df[df.method == "adapter"]
    translated = adapter[adapter.texts > 0]["head"]
    if len(translated):
        return str(translated.value_counts().idxmax())
    heads = sorted(set(adapter["head"]))
    return DEFAULT_HEAD if DEFAULT_HEAD in heads or not heads else heads[0]


def seed_choices(df: pd.DataFrame, by: str = "val_acc") -> pd.DataFrame:
    """Each seed's text count per (shots, translation): the best ``by`` over counts > 0, ties to the fewest texts.

    ``df``: adapter rows of one head with translation filled. Returns columns shots, translation, seed,
    texts, val_acc, test_acc (one row per chosen cell).
    """
    cells = df[df.texts > 0].groupby(["shots", "translation", "seed", "texts"], as_index=False)[["val_acc", "test_acc"]].mean()
    ranked = cells.sort_values(["shots", "translation", "seed", by, "texts"], ascending=[True, True, True, False, True])
    return ranked.drop_duplicates(["shots", "translation", "seed"]).reset_index(drop=True)


def chosen_text_counts(results: pd.DataFrame, shots: int, translation: str) -> dict[int, int]:
    """Seed -> the text count that seed chose on validation for one translation and shot count (Table 1's choice)."""
    df = with_translation(results)
    at = df[(df.method == "adapter") & (df.shots == shots) & (df.translation == translation) & (df["head"] == primary_head(df))]
    chosen = seed_choices(at)
    return {int(s): int(m) for s, m in zip(chosen.seed, chosen.texts)}


def select_text_count(results: pd.DataFrame, shots: int | None = None, by: str = "val_acc", translation: str = "qformer") -> int | None:
    """The one text count (> 0) with the best mean ``by`` pooled over seeds (None if none); ties to the fewest texts.

    Table 1 chooses per seed (``chosen_text_counts``); this pooled choice on ``"test_acc"`` is the paper's oracle.
    """
    df = with_translation(results)
    df = df[df["head"] == primary_head(df)]
    return _pooled_best(df if shots is None else df[df.shots == shots], by, translation)


def _pooled_best(df: pd.DataFrame, by: str, translation: str) -> int | None:
    """select_text_count on a table that already has its translation column."""
    cells = df[(df.method == "adapter") & (df.texts > 0) & (df.translation == translation)]
    return None if cells.empty else int(cells.groupby("texts")[by].mean().idxmax())


def paired_gain(results: pd.DataFrame, shots: int, translation: str, texts: int) -> PairedGain:
    """Test accuracy of ``translation`` with a fixed ``texts`` minus image only on the same head, per seed (points)."""
    df = with_translation(results)
    at = df[(df.method == "adapter") & (df.shots == shots) & (df["head"] == primary_head(df))]
    base = at[at.texts == 0].groupby("seed").test_acc.mean()
    other = at[(at.translation == translation) & (at.texts == texts)].groupby("seed").test_acc.mean()
    return paired((other - base).dropna().to_numpy() * 100)  # aligned on seed: the same support set


def _unstack(frame: pd.DataFrame, key: str, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Test accuracy (%) per (shots, seed) with one column per value of ``key`` (renamed by ``names``)."""
    if frame.empty:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []], names=["shots", "seed"]))
    wide = frame.groupby(["shots", "seed", key]).test_acc.mean().unstack(key) * 100
    return wide.rename(columns=names or {})


def _per_seed(few: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Every setting's test accuracy (%) per (shots, seed): image only on each head, each baseline, each translation."""
    adapter = few[(few.method == "adapter") & (few.texts == 0)]
    heads = _unstack(adapter, "head", {h: init_column(h) for h in set(adapter["head"])})
    baselines = _unstack(few[few.method.isin(list(BASELINE_METHODS))], "method", BASELINE_METHODS)
    return pd.concat([heads, baselines, _unstack(chosen, "translation")], axis=1)


def _edges(few: pd.DataFrame) -> dict[tuple[str, int], bool]:
    """(baseline column, shots) -> whether any seed's chosen hyper-parameters sat on the grid's edge (when recorded)."""
    rows = few[few.method.isin(list(BASELINE_METHODS))]
    found: dict[tuple[str, int], bool] = {}
    for method, shots, chosen in zip(rows.method, rows.shots, rows.chosen):
        try:
            edge = json.loads(chosen).get("at_grid_edge") if isinstance(chosen, str) and chosen else None
        except (ValueError, AttributeError):
            edge = None  # an unreadable record says nothing about the edge
        if edge is not None:
            key = (BASELINE_METHODS[method], int(shots))
            found[key] = found.get(key, False) or bool(edge)
    return found


def _add_paired(row: dict[str, Any], prefix: str, gain: PairedGain) -> None:
    row.update({prefix: gain.mean, f"{prefix}_low": gain.low, f"{prefix}_high": gain.high, f"{prefix}_p": gain.p})


def _differences(w: pd.DataFrame, a: str, b: str) -> np.ndarray:
    """Per-seed ``a`` minus ``b`` (points) over the seeds that have both."""
    return (w[a] - w[b]).dropna().to_numpy() if a in w and b in w else np.array([])


def _strongest(row: dict[str, Any]) -> str | None:
    """The baseline (image only on any head included) with the highest mean test accuracy in a row."""
    means = {b: row[b] for b in BASELINES if b in row and not math.isnan(row[b])}
    return max(means, key=means.get) if means else None


def _shot_row(shots: int, w: pd.DataFrame, context: dict[str, Any]) -> dict[str, Any]:
    """One Table 1 row from the per-seed accuracies ``w`` (seeds x settings, %) of one shot count."""
    head, texts = context["head"], context["texts"]
    reference = init_column(head)
    row: dict[str, Any] = {"shots": shots, "seeds": context["seeds"].get(shots, 0), "protocol": context["protocols"].get(shots, ""), "head": head}
    row["image_only"], row["image_only_std"] = mean_sd(w[reference].dropna()) if reference in w else (math.nan, math.nan)
    for name in BASELINES:
        if name in w and w[name].notna().any():
            row[name], row[f"{name}_std"] = mean_sd(w[name].dropna())
            if (name, shots) in context["edges"]:
                row[f"{name}_edge"] = context["edges"][(name, shots)]
    strongest = _strongest(row)
    if strongest is not None:
        row["strongest_baseline"], row["strongest_baseline_mean"] = strongest, row[strongest]
    for t in TRANSLATIONS:
        if t not in w or w[t].isna().all():
            continue
        c = column(t)
        row[c], row[f"{c}_std"] = mean_sd(w[t].dropna())
        median, low, high = texts.loc[(shots, t)]
        row[f"{c}_texts"], row[f"{c}_texts_min"], row[f"{c}_texts_max"] = float(median), int(low), int(high)
        _add_paired(row, f"{c}_gain", paired(_differences(w, t, reference)))
        if strongest is not None:
            _add_paired(row, f"{c}_vs_strongest", paired(_differences(w, t, strongest)))
    if "qformer" in w and "mean-shift" in w:
        _add_paired(row, QF_VS_MS, paired(_differences(w, "qformer", "mean-shift")))
    return row


def _oracle(adapter: pd.DataFrame, shots: int) -> dict[str, Any]:
    """The Q-Former at the one text count with the best test accuracy pooled over seeds (the paper's oracle)."""
    at = adapter[adapter.shots == shots]
    m = _pooled_best(at, "test_acc", "qformer")
    if m is None:
        return {}
    mean, sd = mean_sd(at[(at.translation == "qformer") & (at.texts == m)].groupby("seed").test_acc.mean() * 100)
    return {"qformer_oracle": mean, "qformer_oracle_std": sd, "qformer_oracle_texts": m}


def _adjust(table: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjust each family's p-values across every cell of the table (translations x shot counts)."""
    families = [[f"{column(t)}_{f}_p" for t in TRANSLATIONS] for f in FAMILIES] + [[f"{QF_VS_MS}_p"]]
    for names in families:
        present = [n for n in names if n in table]
        if not present:
            continue
        adjusted = holm(table[present].to_numpy(dtype=float).ravel()).reshape(len(table), len(present))
        for i, name in enumerate(present):
            table[f"{name}_holm"] = adjusted[:, i]
    return table


def _zero_shot_columns(df: pd.DataFrame, table: pd.DataFrame) -> None:
    """Zero-shot CLIP, and description zero-shot with its text count chosen per seed on validation."""
    zs = df[df.method == "zeroshot"]
    if len(zs):
        table["zero_shot"] = float(zs.test_acc.iloc[0] * 100)
    dzs = df[df.method == "description-zeroshot"].assign(shots=0, translation="description")
    if len(dzs):
        chosen = seed_choices(dzs)
        table["description_zero_shot"], table["description_zero_shot_texts"] = float(chosen.test_acc.mean() * 100), float(chosen.texts.median())


def table1(results: pd.DataFrame) -> pd.DataFrame:
    """Table 1 from a results table: one row per shot count, accuracies in %, gains in points.

    Columns: ``shots``, ``seeds``, ``protocol``, ``head`` (the sweep's head), ``image_only(_std)`` (on that
    head); per translation present, ``<t>`` and ``<t>_std`` at each seed's text count, ``<t>_texts`` (median
    of the seeds' choices), ``<t>_texts_min``, ``<t>_texts_max``, and two paired comparisons ``<t>_gain``
    (over image only) and ``<t>_vs_strongest`` (over the strongest baseline), each with ``_low``, ``_high``
    (95% t-interval), ``_p`` and ``_p_holm``; ``qformer_vs_mean_shift`` likewise; ``qformer_oracle(_std,
    _texts)`` (one text count chosen on test, pooled: the paper's oracle); per baseline present
    (``BASELINES``) ``<b>``, ``<b>_std`` and ``<b>_edge``; ``strongest_baseline`` and its ``_mean``;
    ``zero_shot``; ``description_zero_shot(_texts)``. A run with only zero-shot results gives one row, shots 0.
    """
    keep = ["method", "translation", "head", "protocol", "shots", "texts", "seed", "val_acc", "test_acc", "chosen"]
    df = with_translation(results)[keep]  # only what Table 1 reads: fewer blocks, faster filters
    few = df[df.shots > 0]
    head = primary_head(few)
    adapter = few[(few.method == "adapter") & (few["head"] == head)]
    chosen = seed_choices(adapter)
    context = {
        "head": head,
        "seeds": few.groupby("shots").seed.nunique().to_dict(),
        "protocols": adapter.groupby("shots").protocol.agg(lambda p: "+".join(sorted({str(x) for x in p.dropna() if str(x)}))).to_dict(),
        "texts": chosen.groupby(["shots", "translation"]).texts.agg(["median", "min", "max"]),
        "edges": _edges(few),
    }
    wide = _per_seed(few, chosen)
    rows = [_shot_row(int(k), w.droplevel("shots"), context) | _oracle(adapter, int(k)) for k, w in wide.groupby(level="shots", sort=True)]
    table = _adjust(pd.DataFrame(rows)) if rows else pd.DataFrame([{"shots": 0, "seeds": 0, "protocol": "", "head": head}])
    _zero_shot_columns(df, table)
    if not rows and "zero_shot" not in table and "description_zero_shot" not in table:
        return table.iloc[0:0]  # nothing finished yet
    return table
