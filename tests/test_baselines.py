import numpy as np

from fewshot_core.baselines import LP_C_GRID, accuracy, description_class_embeddings, linear_probe, templates_for, tip_adapter, zero_shot_predict
from fewshot_core.datasets.sampling import sample_few_shot


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


def test_linear_probe_learns_and_reports_its_choice(small_bundle):
    b = small_bundle
    s = sample_few_shot(b.train_labels, 8, 0)
    lp = linear_probe(b.train_features[s.support], b.train_labels[s.support], b.train_features[s.val], b.train_labels[s.val], b.test_features)
    assert accuracy(lp.test_pred, b.test_labels) > 5 / b.num_classes  # well above chance
    sx, sy, vx, vy = b.train_features[s.support], b.train_labels[s.support], b.train_features[s.val], b.train_labels[s.val]
    scores = {c: linear_probe(sx, sy, vx, vy, b.test_features, grid=(c,)).val_acc for c in LP_C_GRID}
    assert lp.val_acc == max(scores.values()) and scores[lp.chosen["C"]] == lp.val_acc  # the C with the best validation score
    own = linear_probe(sx, sy, b.test_features, b.test_labels, b.test_features)  # validating on the test split itself:
    assert own.val_acc == accuracy(own.test_pred, b.test_labels)  # the reported score is the chosen model's


def test_tip_adapter_improves_on_zero_shot(small_bundle):
    b = small_bundle
    s = sample_few_shot(b.train_labels, 8, 0)
    tip = tip_adapter(
        b.train_features[s.support], b.train_labels[s.support], b.class_text_features, b.train_features[s.val], b.train_labels[s.val], b.test_features
    )
    zs = accuracy(zero_shot_predict(b.test_features, b.class_text_features), b.test_labels)
    assert accuracy(tip.test_pred, b.test_labels) >= zs
    assert set(tip.chosen) == {"alpha", "beta"}


def test_linear_probe_matches_scikit_learns_logistic_regression(small_bundle):
    """The torch L-BFGS probe minimises scikit-learn's objective: the same predictions, or nearly."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    from fewshot_core.vectors import unit

    b = small_bundle
    for shots, c in ((1, 1.0), (8, 10.0)):
        s = sample_few_shot(b.train_labels, shots, 0)
        sx, sy = b.train_features[s.support], b.train_labels[s.support]
        ours = linear_probe(sx, sy, sx[:0], sy[:0], b.test_features, grid=(c,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = LogisticRegression(C=c, max_iter=300).fit(unit(sx), sy).predict(unit(b.test_features))
        assert (ours.test_pred == theirs).mean() >= 0.98, shots
