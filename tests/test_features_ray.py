"""``--executor ray``: image features through Ray Data, against a local 2-CPU Ray instance."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fewshot_core.cli import main
from fewshot_core.datasets import load_dataset
from fewshot_core.encode import encode_images
from fewshot_core.executors import RayExecutor
from fewshot_core.features import FeatureCache, image_features
from fewshot_core.progress import Cancelled

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "fewshot-tiny", "--pretrained", "", "--device", "cpu", "--precision", "fp32"]


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module; its workers import this checkout's fewshot_core."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def _cos(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_ray_features_match_the_local_path_row_by_row(ray_local, tiny_backbone, pets_root):
    from fewshot_core.features_ray import encode_images_ray

    paths = load_dataset("pets", pets_root).split("train").paths
    local, local_valid, _ = encode_images(tiny_backbone, paths, batch_size=4, num_workers=0)
    seen = []
    feats, valid, precision = encode_images_ray(tiny_backbone, paths, batch_size=4, on_progress=lambda done, total, _: seen.append((done, total)))
    assert precision == "fp32" and feats.shape == local.shape
    assert [p.name for p, ok in zip(paths, valid) if not ok] == ["Abyssinian_4.jpg"]  # the truncated JPEG, flagged as locally
    assert np.array_equal(valid, local_valid) and np.all(feats[~valid] == 0)
    assert _cos(feats[valid], local[valid]).min() >= 0.9999  # each row is its own image's feature: the order is kept
    assert seen[-1] == (len(paths), len(paths)) and [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 2


def test_ray_writes_the_local_cache_entry_and_hits_it(ray_local, tiny_backbone, cub_root, tmp_path, monkeypatch):
    import fewshot_core.features_ray as features_ray

    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    by_ray = image_features(cache, tiny_backbone, ds, "train", batch_size=5, executor=RayExecutor())
    assert not by_ray.cache_hit and by_ray.precision == "fp32"
    local = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    assert local.cache_hit and np.array_equal(local.features, by_ray.features)  # the local path reads the entry Ray wrote
    image_features(cache, tiny_backbone, ds, "test", num_workers=0)
    monkeypatch.setattr(features_ray, "encode_images_ray", lambda *a, **k: pytest.fail("encoded again"))
    assert image_features(cache, tiny_backbone, ds, "test", executor=RayExecutor()).cache_hit  # and Ray reads the local one
    assert len(list((tmp_path / "features").rglob("*.safetensors"))) == 2


def test_ray_extraction_can_be_cancelled_between_batches(ray_local, tiny_backbone, cub_root, tmp_path):
    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    batches = []
    with pytest.raises(Cancelled, match="cancelled"):
        image_features(
            cache,
            tiny_backbone,
            ds,
            "train",
            batch_size=2,
            on_progress=lambda *a: batches.append(a),
            should_cancel=lambda: bool(batches),
            executor=RayExecutor(),
        )
    assert len(batches) == 1 and not list(tmp_path.rglob("*.safetensors"))  # stopped after the first batch, nothing cached


def test_cli_features_with_the_ray_executor(ray_local, cub_root, tmp_path, capsys):
    args = ["features", "--dataset", "cub", "--root", str(cub_root), *TINY, "--cache", str(tmp_path), "--executor", "ray", "--splits", "test"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["test"]["images"] == 6 and summary["test"]["unreadable"] == 0 and not summary["test"]["cache_hit"]
    assert main(args[:-4]) == 0 and json.loads(capsys.readouterr().out)["test"]["cache_hit"]  # the local executor: the same entry


@pytest.mark.parametrize(
    "extra, message",
    [(["--executor", "bogus"], "Unknown executor 'bogus'"), (["--ray-address", "auto"], "--ray-address only applies with --executor ray")],
)
def test_bad_executor_settings_exit_2_with_one_line_and_no_heavy_import(cub_root, extra, message):
    code = f"""
import sys
from fewshot_core.cli import main
code = main({["features", "--dataset", "cub", "--root", str(cub_root), *TINY, *extra]!r})
print(code, sorted(m for m in ("torch", "ray") if m in sys.modules))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120
    )
    assert out.stdout.strip() == "2 []"
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_features_help_names_the_executor_without_importing_torch_or_ray():
    code = (
        "import sys\nfrom fewshot_core.cli import main\nmain(['features', '--help'])\nprint(sorted(m for m in ('torch', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "--executor" in out.stdout and "--ray-address" in out.stdout and out.stdout.strip().splitlines()[-1] == "[]"


class _FakeRay:
    """What actor_plan reads of a cluster: its resources and nodes."""

    def __init__(self, nodes_cpus: list[int], gpus: int = 0):
        self.nodes_cpus, self.gpus = nodes_cpus, gpus

    def cluster_resources(self):
        return {"CPU": float(sum(self.nodes_cpus)), **({"GPU": float(self.gpus)} if self.gpus else {})}

    def nodes(self):
        return [{"Alive": True, "Resources": {"CPU": float(c)}} for c in self.nodes_cpus] + [{"Alive": False, "Resources": {"CPU": 64.0}}]


def test_actor_plan_one_actor_per_gpu_else_cpu_actors_that_leave_decoding_room():
    from fewshot_core import FewShotError
    from fewshot_core.backbone import BackboneConfig
    from fewshot_core.features_ray import actor_plan

    cfg = BackboneConfig("fewshot-tiny", "", device="auto", precision="fp16")
    config, resources, threads = actor_plan(_FakeRay([16, 16], gpus=4), cfg)
    assert config.device == "cuda" and config.precision == "fp16" and resources == {"num_gpus": 1, "num_cpus": 1, "size": 4} and threads is None
    config, resources, threads = actor_plan(_FakeRay([16, 16], gpus=4), BackboneConfig(device="cpu"))
    assert config.device == "cpu" and resources == {"num_cpus": 7, "size": 4} and threads == 8  # --device cpu: no GPU actors
    assert actor_plan(_FakeRay([2]), cfg)[1:] == ({"num_cpus": 1, "size": 1}, 2)  # a laptop: one actor, one CPU left to decode
    assert actor_plan(_FakeRay([4, 32]), cfg)[1:] == ({"num_cpus": 3, "size": 9}, 4)  # threads fit the smallest node
    with pytest.raises(FewShotError, match="has none"):
        actor_plan(_FakeRay([8]), BackboneConfig(device="cuda"))


def test_a_worker_that_loads_another_clip_is_one_error(ray_local, tiny_backbone, cub_root, tmp_path):
    import torch

    from fewshot_core import FewShotError
    from fewshot_core.backbone import BackboneConfig, load_backbone
    from fewshot_core.features_ray import encode_images_ray

    ckpt = tmp_path / "tiny.pt"
    state = tiny_backbone.model.state_dict()
    torch.save({"state_dict": state}, ckpt)
    backbone = load_backbone(BackboneConfig("fewshot-tiny", str(ckpt), device="cpu", precision="fp32"))
    torch.save({"state_dict": {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}}, ckpt)  # other weights, same path
    with pytest.raises(FewShotError, match=r"^On a Ray worker: the CLIP it loaded differs from the driver's in weights_sha256; install"):
        encode_images_ray(backbone, load_dataset("cub", cub_root).split("test").paths)


def test_reproduce_on_ray_extracts_missing_features_through_ray_data(ray_local, cub_root, tmp_path, capsys, monkeypatch):
    from fewshot_core import encode

    (tmp_path / "d.json").write_text(json.dumps({"Black-footed Albatross": ["dark plumage"], "laysan albatross": ["white head"]}))
    args = ["reproduce", "--dataset", "cub", "--root", str(cub_root), *TINY[:-2], "--descriptions", str(tmp_path / "d.json")]
    args += ["--methods", "adapter", "--translations", "mean-shift", "--shots", "1", "--texts", "0", "1", "--seeds", "1"]
    args += ["--cache", str(tmp_path / "c"), "--json"]
    monkeypatch.setattr(encode, "encode_images", lambda *a, **k: pytest.fail("the driver encoded images itself"))
    assert main([*args, "--executor", "ray", "--run-dir", str(tmp_path / "ray")]) == 0
    ray_json = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(list((tmp_path / "c").rglob("images/cub/*.safetensors"))) == 2  # train and test, in the local cache
    assert main([*args, "--run-dir", str(tmp_path / "local")]) == 0  # the local executor: cache hits, the same table
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == ray_json
