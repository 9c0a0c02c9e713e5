import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.datasets import sample_few_shot

LABELS = np.repeat(np.arange(5), 12)


def test_k_per_class_and_disjoint_from_validation():
    s = sample_few_shot(LABELS, shots=3, seed=0, val_per_class=4)
    assert np.bincount(LABELS[s.support]).tolist() == [3] * 5
    assert np.bincount(LABELS[s.val]).tolist() == [4] * 5
    assert not set(s.support) & set(s.val)
    assert s.short_classes == {}


def test_same_seed_same_draw_other_seed_other_draw():
    a, b, c = (sample_few_shot(LABELS, 2, seed) for seed in (7, 7, 8))
    assert np.array_equal(a.support, b.support) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.support, c.support)


def test_supports_are_nested_and_validation_fixed_across_shots_and_seeds():
    small, big, other_seed = sample_few_shot(LABELS, 1, 3), sample_few_shot(LABELS, 5, 3), sample_few_shot(LABELS, 5, 4)
    assert set(small.support) <= set(big.support)
    assert np.array_equal(small.val, big.val) and np.array_equal(big.val, other_seed.val)
    assert not set(other_seed.support) & set(big.val)


def test_short_classes_are_reported_not_fatal():
    labels = np.array([0] * 10 + [1] * 2)
    s = sample_few_shot(labels, shots=5, seed=0, val_per_class=3)
    assert np.bincount(labels[s.support]).tolist() == [5, 2]
    assert s.short_classes == {1: 2}
    assert (labels[s.val] == 1).sum() == 0  # a class of 2 gives nothing to validation (at most a third)
    assert (labels[s.val] == 0).sum() == 3


def test_bad_shots():
    with pytest.raises(FewShotError):
        sample_few_shot(LABELS, 0, 0)
