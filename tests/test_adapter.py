import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.adapter import AdapterConfig, pooled, train_adapter_heads
from fewshot_core.baselines import zero_shot_predict
from fewshot_core.datasets.sampling import sample_few_shot


def _support(bundle, shots, seed=0):
    s = sample_few_shot(bundle.train_labels, shots, seed)
    return bundle.train_features[s.support], bundle.train_labels[s.support]


def test_untrained_head_is_the_zero_shot_classifier(small_bundle):
    heads = heads_for([_support(small_bundle, 1)], small_bundle.num_classes, AdapterConfig(steps=0), small_bundle.class_text_features)
    assert np.array_equal(
        heads.predict(small_bundle.test_features)[0], zero_shot_predict(small_bundle.test_features, small_bundle.class_text_features)
    )


def test_training_beats_zero_shot_and_heads_are_independent(small_bundle):
    sets = [_support(small_bundle, 8), _support(small_bundle, 1)]
    both = heads_for(sets, small_bundle.num_classes, AdapterConfig(), small_bundle.class_text_features)
    acc = both.accuracy(small_bundle.test_features, small_bundle.test_labels)
    zs = (zero_shot_predict(small_bundle.test_features, small_bundle.class_text_features) == small_bundle.test_labels).mean()
    assert acc[0] > zs + 0.1
    assert acc[0] >= acc[1]  # 8 shots beat 1 shot


def test_strong_decay_keeps_the_head_at_its_initialisation(small_bundle):
    free = heads_for([_support(small_bundle, 4)], small_bundle.num_classes, AdapterConfig(weight_decay=0.0), small_bundle.class_text_features)
    held = heads_for([_support(small_bundle, 4)], small_bundle.num_classes, AdapterConfig(weight_decay=150.0), small_bundle.class_text_features)
    init = free.weight.new_tensor(small_bundle.class_text_features)
    init = init / init.norm(dim=-1, keepdim=True)
    assert (held.weight[0] - init).norm() < 0.5 * (free.weight[0] - init).norm()


def test_epochs_override_steps():
    assert AdapterConfig(steps=7).num_steps(1000) == 7
    assert AdapterConfig(epochs=2, batch_size=100).num_steps(1000) == 20


def heads_for(sets, num_classes, cfg=None, class_text=None):
    """Heads for separate training sets, through the pool the sweep uses."""
    return train_adapter_heads(*pooled(sets), num_classes, cfg, class_text)


def test_bad_input():
    with pytest.raises(FewShotError, match="at least one training example"):
        heads_for([(np.zeros((0, 4)), np.zeros(0, int))], 2)
    with pytest.raises(FewShotError, match="needs class prompt features"):
        heads_for([(np.ones((2, 4)), np.array([0, 1]))], 2, AdapterConfig(init="zeroshot"))
    with pytest.raises(FewShotError, match="Unknown adapter init"):
        heads_for([(np.ones((2, 4)), np.array([0, 1]))], 2, AdapterConfig(init="magic"))
