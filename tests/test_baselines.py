import json
import math

import numpy as np
import pytest

from fewshot_core.baselines import (
    LP_C_GRID,
    LPP_EPOCHS,
    Axis,
    LPPTrainer,
    accuracy,
    description_class_embeddings,
    gda,
    gda_classifier,
    linear_probe,
    lp_plus_plus,
    search_grid,
    templates_for,
    tip_adapter,
    tip_adapter_f,
    zero_shot_predict,
)
from fewshot_core.datasets.sampling import sample_few_shot

TUNED = ("linear_probe", "tip_adapter", "tip_adapter_f", "gda", "lp_plus_plus")


def run_baseline(name, sx, sy, text, vx, vy, tx):
    """Every baseline through one call shape (the probe does not use the text)."""
    if name == "linear_probe":
        return linear_probe(sx, sy, vx, vy, tx)
    return {"tip_adapter": tip_adapter, "tip_adapter_f": tip_adapter_f, "gda": gda, "lp_plus_plus": lp_plus_plus}[name](sx, sy, text, vx, vy, tx)


def split(bundle, shots, seed=0):
    s = sample_few_shot(bundle.train_labels, shots, seed)
    x, y = bundle.train_features, bundle.train_labels
    return x[s.support], y[s.support], x[s.val], y[s.val]


# --- zero-shot helpers -------------------------------------------------------------------------------


def test_zero_shot_by_hand():
    classes = np.array([[1.0, 0.0], [0.0, 2.0]])
    x = np.array([[3.0, 1.0], [0.1, 0.2], [-1.0, -0.5]])
    assert zero_shot_predict(x, classes).tolist() == [0, 1, 1]


def test_description_embeddings_average_unit_vectors():
    desc = np.array([[2.0, 0.0], [0.0, 5.0], [0.0, 1.0]])
    emb = description_class_embeddings(desc, np.array([0, 0, 1]), 3)
    assert np.allclose(emb, [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    assert np.allclose(description_class_embeddings(desc, np.array([0, 0, 1]), 3, per_class=np.array([0, 2]))[0], [1.0, 0.0])


def test_templates():
    assert "bird" in templates_for("cub")[0] and "pet" in templates_for("pets")[0] and "{}" in templates_for("other")[0]


# --- the edge rule -----------------------------------------------------------------------------------


def test_grid_extends_to_an_optimum_beyond_the_first_grid():
    result = search_grid(lambda p: -abs(math.log(p["a"] / 20.0)), [Axis("a", (1.0, 2.0, 4.0, 8.0))])
    assert result.best == {"a": 16.0} and result.grid_extensions == 1  # 8 sat on the edge; 16 < 20 < 32 is inside
    assert not result.at_grid_edge and result.edges_before == ["a"] and result.edges_after == []


def test_grid_with_an_inner_optimum_is_not_extended():
    result = search_grid(lambda p: -abs(math.log(p["a"] / 3.0)), [Axis("a", (1.0, 2.0, 4.0, 8.0))])
    assert result.best == {"a": 4.0} and result.grid_extensions == 0 and not result.at_grid_edge and result.edges_before == []


def test_grid_that_keeps_improving_reports_the_edge_after_the_cap():
    calls = []
    result = search_grid(lambda p: calls.append(p["a"]) or p["a"], [Axis("a", (1.0, 2.0, 4.0, 8.0))], max_extensions=3)
    assert result.grid_extensions == 3 and result.at_grid_edge and result.edges_after == ["a"]
    assert result.best == {"a": 512.0}  # 8 * 2^6: two values per extension, the grid's own ratio
    assert len(calls) == len(set(calls)) == 10  # every point scored once
    down = search_grid(lambda p: -p["a"], [Axis("a", (1.0, 2.0, 4.0))], max_extensions=1)
    assert down.best == {"a": 0.25} and down.at_grid_edge  # the lower edge extends downwards too


def test_natural_bound_is_a_final_edge():
    result = search_grid(lambda p: -p["alpha"], [Axis("alpha", (0.0, 1.0, 2.0), low=0.0)])
    assert result.best == {"alpha": 0.0} and result.grid_extensions == 0 and not result.at_grid_edge
    found = search_grid(lambda p: p["e"], [Axis("e", (0, 1, 2), low=0, extend="double", integer=True)], natural_edge=lambda _, v: v >= 4)
    assert found.best == {"e": 5} and found.grid_extensions == 1 and not found.at_grid_edge  # 0..2 -> 0..5; 5 counts as converged
    assert found.report()["e"] == 5 and isinstance(found.report()["e"], int)


def test_extension_stops_at_a_natural_bound():
    result = search_grid(lambda p: p["w"], [Axis("w", (0.25, 0.5), high=1.0)])
    assert result.best == {"w": 1.0} and result.grid_extensions == 1 and not result.at_grid_edge
    with pytest.raises(ValueError):
        Axis("a", (0.0, 1.0, 2.0))  # a geometric grid cannot extend below 0 unless 0 is its natural bound


def test_ties_prefer_the_centre_or_the_lowest():
    flat = search_grid(lambda p: 0.5, [Axis("a", (1.0, 2.0, 4.0, 8.0, 16.0))])
    assert flat.best == {"a": 4.0} and flat.grid_extensions == 0  # a plateau reaching the edge triggers nothing
    plateau = search_grid(lambda p: min(p["a"], 4.0), [Axis("a", (1.0, 2.0, 4.0, 8.0, 16.0))])
    assert plateau.best == {"a": 4.0}
    early = search_grid(lambda p: min(p["e"], 3), [Axis("e", tuple(range(8)), ties="low", extend="double")])
    assert early.best == {"e": 3}  # the earliest of the best


def test_grid_extends_only_the_axis_on_its_edge():
    seen = []

    def score(p):
        seen.append((p["b"], p["a"]))
        return -abs(p["b"] - 2.0) - abs(math.log((p["a"] + 1e-3) / 100.0))

    result = search_grid(score, [Axis("b", (1.0, 2.0, 4.0)), Axis("a", (0.0, 1.0, 10.0), low=0.0)])
    assert result.best == {"b": 2.0, "a": 100.0} and result.edges_before == ["a"] and not result.at_grid_edge
    assert {b for b, _ in seen} == {1.0, 2.0, 4.0} and {a for _, a in seen} == {0.0, 1.0, 10.0, 100.0, 1000.0}


def test_single_value_axis_is_fixed():
    result = search_grid(lambda p: p["a"], [Axis("a", (3.0,))])
    assert result.best == {"a": 3.0} and result.grid_extensions == 0 and not result.at_grid_edge


# --- GDA -----------------------------------------------------------------------------------------------


def test_gda_closed_form_by_hand():
    """Two classes in 2-D: mu0 = (.5, .5), mu1 = -mu0, scatter [[1, -1], [-1, 1]], tr / (N - 1) = 2/3;
    precision = 2 [[5/3, -1], [-1, 5/3]]^-1 = [[15/8, 9/8], [9/8, 15/8]]; W = precision mu = +-(1.5, 1.5);
    b = log(1/2) - mu^T precision mu / 2 = log(1/2) - 0.75."""
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    weight, bias = gda_classifier(x, np.array([0, 0, 1, 1]), 2)
    assert np.allclose(weight.numpy(), [[1.5, 1.5], [-1.5, -1.5]])
    assert np.allclose(bias.numpy(), [math.log(0.5) - 0.75] * 2)
    scaled, _ = gda_classifier(3.0 * x, np.array([0, 0, 1, 1]), 2)
    assert np.allclose(scaled.numpy(), weight.numpy())  # features are normalised first


def test_gda_one_image_per_class_is_nearest_mean_and_absent_classes_get_no_vote():
    x = np.array([[3.0, 4.0], [0.0, 1.0]])
    weight, bias = gda_classifier(x, np.array([0, 2]), 3)  # no spread: Sigma = I / D; class 1 has no image
    assert np.allclose(weight.numpy()[[0, 2]], [[1.2, 1.6], [0.0, 2.0]])
    assert np.allclose(bias.numpy()[[0, 2]], [math.log(1 / 3) - 1.0, math.log(1 / 3) - 1.0])
    assert np.isnan(weight.numpy()[1]).all()
    text = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    query = np.array([[1.0, 0.05]])  # zero-shot says class 1 (the absent one); GDA alone prefers class 0 over 2
    assert gda(x, np.array([0, 2]), text, query, np.array([1]), query, alphas=(1.0,)).test_pred.tolist() == [1]


def test_gda_with_zero_weight_is_zero_shot(small_bundle):
    b = small_bundle
    sx, sy, vx, vy = split(b, 4)
    fit = gda(sx, sy, b.class_text_features, vx, vy, b.test_features, alphas=(0.0,))
    assert (fit.test_pred == zero_shot_predict(b.test_features, b.class_text_features)).all()
    assert fit.chosen["alpha"] == 0.0 and not fit.chosen["at_grid_edge"]


# --- LP++ ----------------------------------------------------------------------------------------------


def test_lp_plus_plus_objective_never_increases(small_bundle):
    b = small_bundle
    for shots in (1, 4):
        sx, sy, _, _ = split(b, shots)
        trainer = LPPTrainer(sx, sy, b.class_text_features)
        for _ in range(40):
            trainer.step()
        losses = np.array(trainer.losses)
        assert len(losses) == 81 and (np.diff(losses) <= 1e-6 * losses[:-1] + 1e-7).all(), shots
        assert losses[-1] < 0.2 * losses[0]  # and it does descend


def test_lp_plus_plus_reaches_a_known_optimum():
    """Every image is the same vector, 3 of class 0 and 1 of class 1: the best any classifier can do is
    p = (3/4, 1/4) for all, a mean cross-entropy of H(3/4) = 0.5623."""
    x = np.tile([[1.0, 0.0]], (4, 1))
    trainer = LPPTrainer(x, np.array([0, 0, 0, 1]), np.array([[1.0, 0.0], [0.6, 0.8]]))
    for _ in range(300):
        trainer.step()
    assert trainer.losses[-1] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), abs=1e-5)
    assert np.allclose(trainer.probs.numpy(), [[0.75, 0.25]] * 4, atol=1e-3)


def test_lp_plus_plus_step_sizes_by_hand():
    """Centred features (+-1, 0): lambda_max(Fc^T Fc) = 2, N = 2 -> 1/L_w = 2N / 2 = 2; text similarities
    s = (1, 0) and (-1, 0) -> per-class 1/L_alpha = 2N / sum s^2 = (2, inf -> 0 when s is all zero)."""
    trainer = LPPTrainer(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert trainer.step_w == pytest.approx(2.0) and trainer.step_b == 2.0
    assert np.allclose(trainer.step_alpha.numpy(), [2.0, 0.0])
    assert trainer.alpha_init == pytest.approx(250 * 0.0)  # class-mean similarities (1, 0) and (-1, 0) average to 0


def test_lp_plus_plus_chooses_the_earliest_best_epoch(small_bundle):
    b = small_bundle
    sx, sy, vx, vy = split(b, 2)
    fit = lp_plus_plus(sx, sy, b.class_text_features, vx, vy, b.test_features)
    trainer = LPPTrainer(sx, sy, b.class_text_features)
    val = trainer.prepare(vx)
    accs = [trainer.val_acc(e, val, vy) for e in range(max(LPP_EPOCHS, fit.chosen["epochs"]) + 1)]
    assert fit.val_acc == max(accs) and accs.index(max(accs)) == fit.chosen["epochs"]


# --- Tip-Adapter ---------------------------------------------------------------------------------------


def test_tip_adapter_with_zero_alpha_is_zero_shot(small_bundle):
    b = small_bundle
    sx, sy, vx, vy = split(b, 4)
    fit = tip_adapter(sx, sy, b.class_text_features, vx, vy, b.test_features, alphas=(0.0,), betas=(5.5,))
    assert (fit.test_pred == zero_shot_predict(b.test_features, b.class_text_features)).all()


def test_tip_adapter_cache_by_hand():
    """One key per class; a query on key 0: cache logits = (exp(0), exp(-beta)) -> alpha = 1, beta = 1
    turns a zero-shot tie into class 0."""
    keys = np.array([[1.0, 0.0], [0.0, 1.0]])
    text = np.array([[1.0, 1.0], [1.0, 1.0]])  # zero-shot cannot tell the classes apart
    query = np.array([[1.0, 0.0], [0.0, 2.0]])
    fit = tip_adapter(keys, np.array([0, 1]), text, query, np.array([0, 1]), query, alphas=(1.0,), betas=(1.0,))
    assert fit.test_pred.tolist() == [0, 1] and fit.val_acc == 1.0


def test_tip_adapter_improves_on_zero_shot(small_bundle):
    b = small_bundle
    sx, sy, vx, vy = split(b, 8)
    tip = tip_adapter(sx, sy, b.class_text_features, vx, vy, b.test_features)
    zs = accuracy(zero_shot_predict(b.test_features, b.class_text_features), b.test_labels)
    assert accuracy(tip.test_pred, b.test_labels) >= zs
    assert {"alpha", "beta", "at_grid_edge", "grid_extensions"} <= set(tip.chosen)


# --- linear probe --------------------------------------------------------------------------------------


def test_tip_adapter_f_without_epochs_is_tip_adapter(small_bundle):
    b = small_bundle
    sx, sy, vx, vy = split(b, 4)
    tip = tip_adapter(sx, sy, b.class_text_features, vx, vy, b.test_features)
    untrained = tip_adapter_f(sx, sy, b.class_text_features, vx, vy, b.test_features, epochs=0)
    assert (untrained.test_pred == tip.test_pred).all() and untrained.chosen["epochs"] == 0
    assert (untrained.chosen["alpha"], untrained.chosen["beta"]) == (tip.chosen["alpha"], tip.chosen["beta"])


def test_tip_adapter_f_training_fits_the_support_set_and_chooses_its_epoch_on_validation(small_bundle):
    import torch

    from fewshot_core.baselines.common import unit_tensor
    from fewshot_core.baselines.tip_f import TipFTrainer

    b = small_bundle
    sx, sy, vx, vy = split(b, 8)
    trainer = TipFTrainer(sx, sy, b.class_text_features, alpha=1.0, beta=4.0, seed=0)

    def support_loss():
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(trainer.logits(trainer.x, trainer.keys), trainer.y))

    before = support_loss()
    val = unit_tensor(vx)
    accs = [trainer.val_acc(e, val, vy) for e in range(21)]
    assert support_loss() < before - 0.1  # the keys learned: 20 AdamW steps (one batch an epoch) on the cross-entropy
    assert not torch.equal(trainer.kept[0], trainer.keys.detach())
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-9)  # the cosine schedule ended at epoch 20
    best = accs.index(max(accs))  # the earliest best epoch is kept, and it is what validation would choose
    assert best in trainer.kept and all(e <= best for e in trainer.kept)

    fit = tip_adapter_f(sx, sy, b.class_text_features, vx, vy, b.test_features)
    assert fit.chosen["epochs"] == best and fit.chosen["at_grid_edge"] is False
    assert {"alpha", "beta", "train_alpha", "train_beta"} <= set(fit.chosen)


def test_tip_adapter_f_trains_its_keys_even_where_zero_shot_wins_validation(small_bundle, monkeypatch):
    """Training-free Tip-Adapter choosing alpha = 0 would leave the cache without a gradient: the keys train with
    the grid's smallest positive alpha instead."""
    from dataclasses import replace

    from fewshot_core.baselines import tip_f

    real = tip_f.search_alpha_beta
    calls = []

    def zero_first(cache, val_x, val_y, *args):
        calls.append(1)
        found = real(cache, val_x, val_y, *args)
        return replace(found, best={**found.best, "alpha": 0.0}) if len(calls) == 1 else found

    monkeypatch.setattr(tip_f, "search_alpha_beta", zero_first)
    b = small_bundle
    sx, sy, vx, vy = split(b, 4)
    fit = tip_f.tip_adapter_f(sx, sy, b.class_text_features, vx, vy, b.test_features)
    assert fit.chosen["train_alpha"] == 0.25 and len(calls) == 2


def test_linear_probe_learns_and_reports_its_choice(small_bundle):
    b = small_bundle
    sx, sy, vx, vy = split(b, 8)
    lp = linear_probe(sx, sy, vx, vy, b.test_features, max_extensions=0)
    assert accuracy(lp.test_pred, b.test_labels) > 5 / b.num_classes  # well above chance
    scores = {c: linear_probe(sx, sy, vx, vy, b.test_features, grid=(c,)).val_acc for c in LP_C_GRID}
    assert lp.val_acc == max(scores.values()) and scores[lp.chosen["C"]] == lp.val_acc  # the C with the best validation score
    own = linear_probe(sx, sy, b.test_features, b.test_labels, b.test_features)  # validating on the test split itself:
    assert own.val_acc == accuracy(own.test_pred, b.test_labels)  # the reported score is the chosen model's
    extended = linear_probe(sx, sy, vx, vy, b.test_features)  # the edge rule on: never worse on validation
    assert extended.val_acc >= lp.val_acc and linear_probe(sx, sy, vx, vy, b.test_features, grid=(extended.chosen["C"],)).val_acc == extended.val_acc
    assert (extended.chosen["grid_extensions"] > 0) == (extended.chosen["edges_before"] == ["C"])


def test_linear_probe_matches_scikit_learns_logistic_regression(small_bundle):
    """The torch L-BFGS probe minimises scikit-learn's objective: the same predictions, or nearly."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    from fewshot_core.vectors import l2_normalize

    b = small_bundle
    for shots, c in ((1, 1.0), (8, 10.0)):
        s = sample_few_shot(b.train_labels, shots, 0)
        sx, sy = b.train_features[s.support], b.train_labels[s.support]
        ours = linear_probe(sx, sy, sx[:0], sy[:0], b.test_features, grid=(c,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = LogisticRegression(C=c, max_iter=300).fit(l2_normalize(sx), sy).predict(l2_normalize(b.test_features))
        assert (ours.test_pred == theirs).mean() >= 0.98, shots


# --- all tuned baselines ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TUNED)
def test_baseline_is_deterministic_and_reports_json(small_bundle, name):
    b = small_bundle
    sx, sy, vx, vy = split(b, 2)
    first = run_baseline(name, sx, sy, b.class_text_features, vx, vy, b.test_features)
    second = run_baseline(name, sx.copy(), sy.copy(), b.class_text_features.copy(), vx, vy, b.test_features)
    assert (first.test_pred == second.test_pred).all() and first.chosen == second.chosen and first.val_acc == second.val_acc
    record = json.loads(json.dumps(first.chosen))
    assert isinstance(record["at_grid_edge"], bool) and isinstance(record["grid_extensions"], int)


@pytest.mark.parametrize("name", TUNED)
def test_baseline_beats_chance_and_zero_shot_on_separable_data(small_bundle, name):
    b = small_bundle
    sx, sy, vx, vy = split(b, 8)
    fit = run_baseline(name, sx, sy, b.class_text_features, vx, vy, b.test_features)
    acc = accuracy(fit.test_pred, b.test_labels)
    zs = accuracy(zero_shot_predict(b.test_features, b.class_text_features), b.test_labels)
    assert acc > 5 / b.num_classes and acc > zs + 0.1, (acc, zs)  # chance: 5 %, zero-shot: 21 %
    assert fit.val_acc == accuracy(run_baseline(name, sx, sy, b.class_text_features, vx, vy, vx).test_pred, vy)  # reported = chosen model's


@pytest.mark.parametrize("name", TUNED)
def test_baseline_handles_unequal_and_missing_support(small_bundle, name):
    """Class 0 has one image, class 1 none, the rest four: the baselines still fit, predict valid classes,
    and stay far above chance (5 %)."""
    b = small_bundle
    sx, sy, vx, vy = split(b, 4)
    keep = np.ones(len(sy), bool)
    keep[np.flatnonzero(sy == 0)[1:]] = False
    keep[sy == 1] = False
    fit = run_baseline(name, sx[keep], sy[keep], b.class_text_features, vx, vy, b.test_features)
    assert fit.test_pred.shape == b.test_labels.shape and set(fit.test_pred) <= set(range(b.num_classes))
    assert accuracy(fit.test_pred, b.test_labels) > 5 / b.num_classes
