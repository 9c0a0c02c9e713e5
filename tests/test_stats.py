"""Sample SD, the paired t-test and Holm's adjustment, on numbers small enough to check by hand."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from fewshot_core.stats import holm, mark, mean_sd, paired, t_test_p


def test_holm_by_hand():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # NaN (a cell with one seed) is neither adjusted nor counted: m = 2 here
    adjusted = holm([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.03]) == pytest.approx([0.03]) and len(holm([])) == 0  # one test: nothing to correct


def test_holm_never_below_the_raw_p_and_keeps_order():
    p = np.random.default_rng(0).uniform(0, 0.2, 30)
    adjusted = holm(p)
    assert (adjusted >= p).all() and (np.diff(adjusted[np.argsort(p)]) >= 0).all()


def test_t_test_by_hand_and_against_scipy():
    # differences 3, 4, 5: mean 4, SD 1, t = 4 / (1 / sqrt 3) = sqrt 48; with 2 df, p = 1 - t / sqrt(t^2 + 2)
    assert t_test_p([3.0, 4.0, 5.0]) == pytest.approx(1 - math.sqrt(48) / math.sqrt(50))
    x = np.random.default_rng(1).normal(0.5, 2.0, 12)
    assert t_test_p(x) == pytest.approx(scipy_stats.ttest_1samp(x, 0.0).pvalue)
    assert math.isnan(t_test_p([2.0])) and math.isnan(t_test_p([]))  # one seed: no test
    assert t_test_p([2.0, 2.0, 2.0]) == 0.0 and t_test_p([0.0, 0.0]) == 1.0  # SD 0: certain, or nothing at all


def test_sample_sd_and_paired():
    assert mean_sd([50.0, 60.0, 70.0]) == pytest.approx((60.0, 10.0))  # ddof 1: sqrt(200 / 2); the population SD is 8.16
    assert math.isnan(mean_sd([5.0])[1]) and all(math.isnan(v) for v in mean_sd([]))
    g = paired([2.0, 4.0, 2.0])
    assert g.mean == pytest.approx(8 / 3) and g.seeds == 3 and g.p == pytest.approx(1 - 4 / math.sqrt(18))  # t = 4
    assert g.low == pytest.approx(8 / 3 - 4.302653 * 2 / 3, abs=1e-5) and math.isnan(g.p_holm)


def test_mark_means_holm_significant_with_its_sign():
    assert mark(2.0, 0.01) == "*" and mark(-2.0, 0.01) == "†"
    assert mark(2.0, 0.05) == "" and mark(2.0, math.nan) == "" and mark(None, None) == ""
