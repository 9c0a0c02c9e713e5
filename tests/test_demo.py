import hashlib
import json

import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.datasets.demo import OFFICIAL_COUNTS
from fewshot_core.descriptions.generate import DescribeRequest, describe

from .test_cli import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return load_dataset("demo", tmp_path_factory.mktemp("demo"))


def _digest(paths):
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def test_demo_is_generated_with_official_style_splits(demo):
    assert {"num_classes": demo.num_classes, "num_train": len(demo.split("train")), "num_test": len(demo.split("test"))} == OFFICIAL_COUNTS
    assert np.bincount(demo.split("test").labels).tolist() == [16] * 48
    assert all(len(n.split()) == 3 for n in demo.display_names)  # "red striped circle"
    assert len(set(demo.display_names)) == 48


def test_demo_is_deterministic(demo, tmp_path):
    again = load_dataset("demo", tmp_path)
    assert again.display_names == demo.display_names
    assert _digest(again.split("test").paths[:40]) == _digest(demo.split("test").paths[:40])


def test_demo_attributes_feed_the_attribute_source(demo, tmp_path):
    c = 0
    colour, pattern, shape = demo.display_names[c].split()
    on = [n for n, v in zip(demo.attributes.names, demo.attributes.values[c]) if v == 100]
    assert on == [f"has_color::{colour}", f"has_pattern::{pattern}", f"has_shape::{shape}"]
    summary = describe(demo, DescribeRequest("attributes"), tmp_path)
    assert summary.classes_done == 48 and summary.descriptions == 48 * 3


def test_demo_refuses_a_folder_holding_something_else(tmp_path):
    (tmp_path / "my-thesis.tex").write_text("do not overwrite")
    with pytest.raises(FewShotError, match="not empty"):
        load_dataset("demo", tmp_path)


def test_verify_demo_without_root(tmp_path):
    out = run_cli("verify-dataset", "--dataset", "demo", "--quick", env_extra={"FEWSHOT_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["num_classes"] == 48 and report["matches_official_counts"] is True and report["has_attributes"]
    out = run_cli("verify-dataset", "--dataset", "cub")
    assert out.returncode == 2 and "needs a folder" in out.stderr
