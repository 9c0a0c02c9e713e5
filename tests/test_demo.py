import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import PIL
import pytest

from fewshot_core import FewShotError
from fewshot_core.datasets import load_dataset
from fewshot_core.demo import dataset as demo_module
from fewshot_core.demo.dataset import OFFICIAL_COUNTS
from fewshot_core.descriptions.generate import DescribeRequest, describe

from .test_cli import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return load_dataset("demo", tmp_path_factory.mktemp("demo"))


# SHA-256 of every file of the generated demo (path and bytes), recorded with pillow 13.0.0 and numpy 2.4.6
# (requirements.txt pins them: other versions may draw or compress the PNGs differently).
DEMO_TREE_SHA256 = "81bbfe2fb2095ae8f8eea41158154de1aa3bf0826890036e4c45202a3488c327"


def _digest(paths):
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def tree_digest(base: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in Path(base).rglob("*") if q.is_file()):
        h.update(p.relative_to(base).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_demo_is_generated_with_official_style_splits(demo):
    assert {"num_classes": demo.num_classes, "num_train": len(demo.split("train")), "num_test": len(demo.split("test"))} == OFFICIAL_COUNTS
    assert np.bincount(demo.split("test").labels).tolist() == [16] * 48
    assert all(len(n.split()) == 3 for n in demo.display_names)  # "red striped circle"
    assert len(set(demo.display_names)) == 48


def test_demo_is_deterministic(demo, tmp_path):
    again = load_dataset("demo", tmp_path)
    assert again.display_names == demo.display_names
    assert _digest(again.split("test").paths[:40]) == _digest(demo.split("test").paths[:40])


def test_demo_is_byte_identical_to_the_recorded_one(demo):
    versions = f"pillow {PIL.__version__}, numpy {np.__version__}"
    assert tree_digest(demo.root) == DEMO_TREE_SHA256, (
        f"the generated demo differs from the recorded one ({versions}; recorded with pillow 13.0.0, numpy 2.4.6)"
    )


def test_demo_attributes_feed_the_attribute_source(demo, tmp_path):
    c = 0
    colour, pattern, shape = demo.display_names[c].split()
    on = [n for n, v in zip(demo.attributes.names, demo.attributes.values[c]) if v == 100]
    assert on == [f"has_color::{colour}", f"has_pattern::{pattern}", f"has_shape::{shape}"]
    summary = describe(demo, DescribeRequest("attributes"), tmp_path)
    assert summary.classes_done == 48 and summary.descriptions >= 48 * 10
    lines = json.loads((Path(summary.store) / "classes" / "0000.json").read_text())["generated"]
    assert len(set(lines)) >= 10 and all(demo.display_names[c] not in line.lower() for line in lines)
    assert any(colour in line for line in lines) and any(colour not in line and shape not in line for line in lines)  # single attributes, vague ones
    assert any(line.startswith(("Like the", "Similar to", "Not ")) for line in lines)  # comparisons
    every = [json.loads(p.read_text())["generated"] for p in sorted((Path(summary.store) / "classes").glob("*.json"))]
    assert all(len(ls) >= 10 and not any(name in line.lower() for line in ls) for ls, name in zip(every, demo.display_names))


def test_demo_root_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "demo.zip").write_text("not a folder")
    with pytest.raises(FewShotError, match="is a file"):
        load_dataset("demo", tmp_path / "demo.zip")
    out = run_cli("verify-dataset", "--dataset", "demo", "--root", str(tmp_path / "demo.zip"), "--quick")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1


def test_demo_appears_only_when_complete(tmp_path, monkeypatch):
    write = demo_module._write_demo
    seen = []

    def checked_write(base, seed):
        seen.append((tmp_path / "fewshot-demo").exists())  # the final folder must not exist while images are written
        write(base, seed)

    monkeypatch.setattr(demo_module, "_write_demo", checked_write)
    ds = load_dataset("demo", tmp_path)
    assert seen == [False] and ds.root == tmp_path / "fewshot-demo"
    assert [p.name for p in tmp_path.iterdir()] == ["fewshot-demo"]  # no temporary folder left behind


def test_concurrent_generation_gives_one_complete_demo(tmp_path):
    results, errors = [], []

    def load():
        try:
            ds = load_dataset("demo", tmp_path)
            results.append(len([p for p in ds.split("test").paths if p.is_file()]))
        except Exception as e:  # noqa: BLE001 - collected for the assert
            errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [768, 768]
    assert [p.name for p in tmp_path.iterdir()] == ["fewshot-demo"]


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
