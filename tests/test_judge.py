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


def test_judged_with_counts_the_labels_by_hand():
    from fewshot_core.judge import judged_with

    record = judged_with(np.array([0, 0, 1, 1, 1, 3]), 4, "train", {"model": "m"})
    assert record == {
        "split": "train",
        "images": 6,
        "labels_per_class": 3,  # class 1 gave 3 labelled images
        "labels_per_class_min": 0,  # class 2 gave none
        "all_training_labels": True,
        "clip": {"model": "m"},
    }


def test_judging_a_set_records_which_images_judged_it(cub_root, tiny_backbone, tmp_path):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.descriptions.store import DescriptionStore
    from fewshot_core.judge import judge_set_report

    cub = load_dataset("cub", cub_root)
    describe(cub, DescribeRequest("attributes"), tmp_path)
    [dset] = DescriptionStore(tmp_path).list("cub")
    report = judge_set_report(cub, dset, tiny_backbone, tmp_path)
    counts = np.bincount(cub.split("train").labels)
    assert report["judged_with"] | {"clip": None} == {
        "split": "train",
        "images": int(counts.sum()),
        "labels_per_class": int(counts.max()),
        "labels_per_class_min": int(counts.min()),
        "all_training_labels": True,
        "clip": None,
    }
    assert report["judged_with"]["clip"]["model"] == "fewshot-tiny"
    assert len(report["records"]) == sum(len(dset.lines(c)) for c in range(cub.num_classes))
