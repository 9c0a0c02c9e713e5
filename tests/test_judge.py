"""Judging descriptions: numbers checked by hand and synthetic features whose truth is known."""

import numpy as np

from fewshot_core.judge import class_centroids, judge_descriptions, judgement_records


def test_centroids_by_hand():
    images = np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 1.0]])
    centroids = class_centroids(images, np.array([0, 1, 1]), 2)
    assert np.allclose(centroids, [[1, 0], [0, 1]])


def test_a_description_pointing_at_another_class_is_flagged():
    rng = np.random.default_rng(0)
    protos = np.eye(4, 16) * 3
    gap = np.zeros(16)
    gap[-1] = 2.0  # the modality gap: texts sit away from images along one direction
    image_labels = np.repeat(np.arange(4), 10)
    images = protos[image_labels] + gap + 0.3 * rng.standard_normal((40, 16))
    text_labels = np.repeat(np.arange(4), 5)
    texts = protos[text_labels] - gap + 0.3 * rng.standard_normal((20, 16))
    texts[0] = protos[2] - gap  # labelled class 0, but describes class 2
    j = judge_descriptions(images, image_labels, texts, text_labels, 4)
    assert j.flagged.tolist() == [True] + [False] * 19
    assert j.rank[0] > 1 and j.nearest_other[0] == 2 and (j.rank[1:] == 1).all()
    assert j.cos_translated[0] < j.cos_translated[1:].min()
    assert (j.cos_translated[1:] > j.cos_raw[1:]).all()  # translation closes the gap
    records = judgement_records(j, [f"t{i}" for i in range(20)], text_labels, ["a", "b", "c", "d"])
    assert records[0] == records[0] | {"text": "t0", "class": "a", "nearest_other": "c", "flagged": True}
    assert [r["flagged"] for r in records].count(True) == 1
