"""The statistics Table 1 rests on: sample SD, Student-t intervals and tests of paired differences, Holm's correction.

Every comparison in a table is paired by seed (the same support set), so each reduces to a one-sample
question about the per-seed differences: their mean, a 95% t-interval, and a two-sided t-test of "mean 0".
A table asks many such questions at once; Holm's step-down adjustment keeps the chance of any false
"helped" across a table's cells at 5% (a star per cell at 95% each does not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

SIGNIFICANCE = 0.05  # a cell is marked when its Holm-adjusted p is below this


def mean_sd(values: np.ndarray | list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1) of ``values``; the SD is NaN below 2 values, both NaN for none."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else math.nan


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


def t_test_p(values: np.ndarray | list[float]) -> float:
    """Two-sided p-value of the one-sample t-test of "the mean is 0"; NaN below 2 values.

    Identical non-zero differences (SD 0) give p = 0, all-zero ones p = 1: scipy would answer NaN for both.
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return math.nan
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    if sd == 0:
        return 0.0 if mean != 0 else 1.0
    t = mean / (sd / math.sqrt(len(x)))
    return float(2 * stats.t.sf(abs(t), len(x) - 1))


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input's order; NaN entries stay NaN and are not counted.

    The i-th smallest of m p-values becomes max over j <= i of min(1, (m - j + 1) * p_(j)).
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    m = len(order)
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


@dataclass
class PairedGain:
    """A paired comparison over seeds, in accuracy points: mean of the per-seed differences, 95% t-interval, p-values."""

    mean: float
    low: float  # 95% t-interval over seeds; NaN with fewer than 2 seeds
    high: float
    seeds: int  # seeds with both numbers
    p: float = math.nan  # two-sided one-sample t-test of the differences; NaN with fewer than 2 seeds
    p_holm: float = math.nan  # p after Holm's adjustment over the comparisons of its table (set by the table)


def paired(differences: np.ndarray | list[float]) -> PairedGain:
    """The PairedGain of per-seed differences (already in points)."""
    d = np.asarray(differences, dtype=float)
    mean, low, high = t_interval(d)
    return PairedGain(mean, low, high, len(d), t_test_p(d))


def mark(gain: float, p_holm: float) -> str:
    """'*' for a Holm-significant gain above 0, '†' for one below 0 (harm), '' otherwise (or unknown)."""
    if gain is None or p_holm is None or math.isnan(gain) or math.isnan(p_holm) or p_holm >= SIGNIFICANCE or gain == 0:
        return ""
    return "*" if gain > 0 else "†"
