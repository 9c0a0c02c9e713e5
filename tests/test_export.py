"""``features --export``: npz files a user can load with numpy alone, and a provenance record."""

import json

import numpy as np

from fewshot_core.cli import main


def _features(dataset, root_args, cache, export, capsys):
    args = ["features", "--dataset", dataset, *root_args, "--model", "fewshot-tiny", "--pretrained", "", "--cache", str(cache), "--workers", "0"]
    assert main([*args, "--device", "cpu", "--export", str(export)]) == 0
    return json.loads(capsys.readouterr().out)


def test_export_writes_npz_and_provenance(cub_root, tmp_path, capsys):
    summary = _features("cub", ["--root", str(cub_root)], tmp_path / "c", tmp_path / "out", capsys)
    assert summary["exported"] == str(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["provenance.json", "test.npz", "train.npz"]
    with np.load(tmp_path / "out" / "train.npz") as z:  # no pickle needed
        assert sorted(z.files) == ["class_names", "features", "labels", "valid"]
        assert z["features"].shape == (12, 32) and z["features"].dtype == np.float32
        assert z["labels"].dtype == np.int64 and z["valid"].dtype == bool and z["class_names"].shape == (3,)
        assert z["labels"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
        assert np.abs(z["features"][z["valid"]]).sum(1).min() > 0
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["model"] == "fewshot-tiny" and prov["dataset"] == "cub" and prov["weights"] == {"weights_tag": "random-init-seed0"}
    assert prov["splits"]["train"]["images"] == 12 and len(prov["splits"]["test"]["fingerprint"]) == 64
    assert prov["splits"]["train"]["precision"] in ("fp32", "bf16")


def test_export_of_the_demo_goes_with_cache_relocation(tmp_path, capsys):
    _features("demo", [], tmp_path / "cache", tmp_path / "out", capsys)
    assert (tmp_path / "cache" / "demo-data" / "fewshot-demo" / "VERSION.json").is_file()  # --cache moved the demo images
    with np.load(tmp_path / "out" / "test.npz") as z:
        assert z["features"].shape == (768, 32) and np.bincount(z["labels"]).tolist() == [16] * 48 and z["valid"].all()
        assert z["class_names"][0].count(" ") == 2
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["num_classes"] == 48 and prov["dataset_root"].endswith("fewshot-demo")


def test_export_into_a_file_is_one_line_error(cub_root, tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    args = ["features", "--dataset", "cub", "--root", str(cub_root), "--model", "fewshot-tiny", "--pretrained", "", "--cache", str(tmp_path / "c")]
    assert main([*args, "--workers", "0", "--export", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --export") and err.count("\n") == 1
