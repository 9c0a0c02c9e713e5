import multiprocessing as mp
import sys
import time
import types

import numpy as np
import pytest

from fewshot_core.backbone import BackboneConfig, load_backbone
from fewshot_core.datasets import load_dataset
from fewshot_core.datasets.images import load_rgb
from fewshot_core.encode import _checked_precision, encode_images, encode_text_tokens, encode_texts
from fewshot_core.features import FeatureCache, cached_splits, image_features, text_features


def _cos(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def test_unreadable_images_are_flagged_not_fatal(tiny_backbone, pets_root):
    ds = load_dataset("pets", pets_root)
    paths = ds.split("test").paths
    feats, valid, _ = encode_images(tiny_backbone, paths, batch_size=5, num_workers=0)
    assert feats.shape == (len(paths), 32)
    assert [p.name for p, ok in zip(paths, valid) if not ok] == []  # test split: odd ones are readable
    train = ds.split("train").paths
    feats, valid, _ = encode_images(tiny_backbone, train, batch_size=4, num_workers=1)
    assert [p.name for p, ok in zip(train, valid) if not ok] == ["Abyssinian_4.jpg"]
    assert np.all(feats[~valid] == 0) and np.all(np.abs(feats[valid]).sum(1) > 0)


def test_batching_and_workers_do_not_change_features(tiny_backbone, cub_root):
    paths = load_dataset("cub", cub_root).split("train").paths
    a, _, _ = encode_images(tiny_backbone, paths, batch_size=64, num_workers=0)
    b, _, _ = encode_images(tiny_backbone, paths, batch_size=3, num_workers=2)
    assert np.allclose(a, b, atol=1e-5)


def test_bf16_stays_within_cosine_0999_of_fp32(cub_root):
    paths = load_dataset("cub", cub_root).split("train").paths
    fp32 = load_backbone(BackboneConfig("fewshot-tiny", "", device="cpu", precision="fp32"))
    bf16 = load_backbone(BackboneConfig("fewshot-tiny", "", device="cpu", precision="bf16"))
    ref, _, _ = encode_images(fp32, paths, num_workers=0)
    low, _, used = encode_images(bf16, paths, num_workers=0)
    assert used == "bf16"  # the guard keeps bf16 here, so the cosine below measures bf16, not an fp32 fallback
    assert not np.array_equal(ref, low)  # the features really were computed in another precision
    assert _cos(ref, low).min() >= 0.999


def test_precision_guard_falls_back_to_fp32(monkeypatch):
    import torch

    import fewshot_core.encode as encode

    b = load_backbone(BackboneConfig("fewshot-tiny", "", device="cpu", precision="bf16"))
    real = encode._encode_batch

    def noisy(backbone, images, precision):
        out = real(backbone, images, "fp32")
        return out + (torch.randn_like(out) * out.norm() if precision == "bf16" else 0)

    monkeypatch.setattr(encode, "_encode_batch", noisy)
    assert _checked_precision(b, torch.randn(4, 3, 32, 32)) == "fp32"


def test_cache_hit_returns_the_same_features(tiny_backbone, cub_root, tmp_path):
    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    first = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    start = time.perf_counter()
    second = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    assert not first.cache_hit and second.cache_hit
    assert time.perf_counter() - start < 5
    assert np.array_equal(first.features, second.features)
    assert np.array_equal(second.labels, ds.split("train").labels)


def test_cache_key_depends_on_split_and_model(tiny_backbone, cub_root, tmp_path):
    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    assert not image_features(cache, tiny_backbone, ds, "test", num_workers=0).cache_hit
    quick = load_backbone(BackboneConfig("fewshot-tiny", "", quick_gelu=True, device="cpu", precision="fp32"))
    assert not image_features(cache, quick, ds, "train", num_workers=0).cache_hit


def test_corrupt_entry_is_recomputed(tiny_backbone, cub_root, tmp_path):
    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    good = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    [entry] = (tmp_path / "features").rglob("*.safetensors")
    raw = bytearray(entry.read_bytes())
    raw[-8:] = b"\x00" * 8  # flip the last feature values
    entry.write_bytes(bytes(raw))
    again = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    assert not again.cache_hit
    assert np.array_equal(good.features, again.features)


def _slow_writer(root, value, queue):
    cache = FeatureCache(root)

    def compute():
        time.sleep(0.5)
        return {"x": np.full((1000, 64), value, np.float32)}, {"writer": value}

    arrays, info, hit = cache.get_or_compute("demo", {"same": "key"}, compute)
    queue.put((float(arrays["x"][0, 0]), info["writer"], hit))


def test_two_processes_writing_one_entry(tmp_path, monkeypatch):
    # A spawned child re-runs __main__'s file: after an AppTest in this process that is app.py, so give it a bare one.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__mp_main__"))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_slow_writer, args=(tmp_path, v, queue)) for v in (1.0, 2.0)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    assert sorted(r[2] for r in results) == [False, True]  # one computed, the other waited and read it
    assert results[0][0] == results[1][0]
    arrays, _, hit = FeatureCache(tmp_path).get_or_compute("demo", {"same": "key"}, lambda: pytest.fail("recomputed"))
    assert hit and arrays["x"].shape == (1000, 64)


def test_text_features_and_tokens(tiny_backbone, tmp_path):
    texts = ["a bird", "a small grey bird with a long hooked bill and dark wings"]
    pooled = encode_texts(tiny_backbone, texts)
    p, tokens, mask = encode_text_tokens(tiny_backbone, texts)
    assert np.allclose(pooled, p, atol=1e-5)
    assert mask.sum(1).tolist()[0] == 4  # <start> a bird <end>
    assert tokens.shape == (2, mask.sum(1).max(), 32)
    cached = text_features(FeatureCache(tmp_path), tiny_backbone, texts, with_tokens=True)
    assert cached["mask"].dtype == bool and np.allclose(cached["pooled"], pooled, atol=1e-5)


def test_find_cached_entries_without_loading_a_model(tiny_backbone, cub_root, tmp_path):
    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    assert cache.find("images/cub", model="fewshot-tiny") == []
    image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    [entry] = cache.find("images/cub", model="fewshot-tiny", weights_tag="random-init-seed0")
    assert entry["split"] == "train" and cache.find("images/cub", model="ViT-B-32") == []


def test_a_repaired_image_is_a_cache_miss(tiny_backbone, pets_root, tmp_path):
    from .fixtures import write_image

    ds, cache = load_dataset("pets", pets_root), FeatureCache(tmp_path)
    first = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    broken = ds.split("train").paths[first.unreadable[0]]
    assert broken.name == "Abyssinian_4.jpg"
    write_image(broken, seed=7)  # the user repairs the JPEG
    second = image_features(cache, tiny_backbone, ds, "train", num_workers=0)
    assert not second.cache_hit and len(second.unreadable) == 0
    assert image_features(cache, tiny_backbone, ds, "train", num_workers=0).cache_hit  # unchanged files: a hit again


def test_a_copy_of_the_folder_is_keyed_by_its_own_root_and_files(tiny_backbone, cub_root, tmp_path):
    import shutil

    from fewshot_core import FewShotError

    cache = FeatureCache(tmp_path / "cache")
    image_features(cache, tiny_backbone, load_dataset("cub", cub_root), "test", num_workers=0)
    copy = tmp_path / "copy"
    shutil.copytree(cub_root, copy)
    for image in (copy / "CUB_200_2011" / "images").rglob("*.jpg"):
        image.unlink()
    with pytest.raises(FewShotError, match="None of the 6 test images"):  # not the first folder's features
        image_features(cache, tiny_backbone, load_dataset("cub", copy), "test", num_workers=0)


def test_loader_settings_are_checked_before_the_cache(tiny_backbone, cub_root, tmp_path):
    from fewshot_core import FewShotError

    ds, cache = load_dataset("cub", cub_root), FeatureCache(tmp_path)
    assert not image_features(cache, tiny_backbone, ds, "test", num_workers=0).cache_hit
    for kwargs in ({"batch_size": 0}, {"num_workers": -1}):
        with pytest.raises(FewShotError, match="must be"):
            image_features(cache, tiny_backbone, ds, "test", **{"num_workers": 0, **kwargs})


def test_text_lists_that_join_to_the_same_string_get_different_entries(tiny_backbone, tmp_path):
    cache = FeatureCache(tmp_path)
    a = ["white head\nand body", "dark wings"]
    b = ["white head", "and body\ndark wings"]
    assert "\n".join(a) == "\n".join(b)
    text_features(cache, tiny_backbone, a)
    got = text_features(cache, tiny_backbone, b)["pooled"]
    assert np.allclose(got, encode_texts(tiny_backbone, b), atol=1e-5)
    assert not np.allclose(got, encode_texts(tiny_backbone, a), atol=1e-3)
    assert len(list((tmp_path / "features" / "texts").glob("*.safetensors"))) == 2


def test_cached_splits_says_what_is_encoded_without_a_model(tiny_backbone, cub_root, tmp_path):
    from fewshot_core.features import FeatureCache, cached_splits, image_features

    ds = load_dataset("cub", cub_root)
    assert cached_splits(tmp_path, ds, "fewshot-tiny", "") == {"train": False, "test": False}
    image_features(FeatureCache(tmp_path), tiny_backbone, ds, "train")
    assert cached_splits(tmp_path, ds, "fewshot-tiny", "") == {"train": True, "test": False}
    assert cached_splits(tmp_path, ds, "ViT-B-32", "openai") == {"train": False, "test": False}  # another CLIP


def test_bf16_images_use_a_cast_copy_of_the_image_tower_and_leave_text_alone(cub_root, monkeypatch):
    import torch

    import fewshot_core.encode as encode

    paths = load_dataset("cub", cub_root).split("train").paths
    b = load_backbone(BackboneConfig("fewshot-tiny", "", device="cpu", precision="bf16"))
    texts = ["a bird", "a grey bird with a hooked bill"]
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        text_before = b.model.encode_text(b.tokenizer(texts)).float().numpy()
    checks = []
    real = encode._checked_precision
    monkeypatch.setattr(encode, "_checked_precision", lambda *a: checks.append(1) or real(*a))
    first, _, used = encode_images(b, paths, batch_size=4, num_workers=0)
    second, _, _ = encode_images(b, paths[:5], num_workers=0)
    assert used == "bf16" and len(checks) == 1  # the fp32 check runs once per backbone, not once per call
    assert {p.dtype for p in b.low_precision_visual().parameters()} == {torch.bfloat16}
    assert {p.dtype for p in b.model.parameters()} == {torch.float32}  # the model itself, text tower included, is untouched
    assert np.array_equal(encode_texts(b, texts), text_before)  # text still runs under autocast, as before
    with torch.inference_mode():
        x = torch.stack([b.preprocess(load_rgb(p)) for p in paths[:5]])
        assert np.array_equal(second, b.low_precision_visual()(x.bfloat16()).float().numpy())
    assert np.allclose(first[:5], second, atol=1e-2)  # batch size changes bf16 rounding only


def test_a_failed_check_drops_the_cast_copy(monkeypatch, cub_root):
    import fewshot_core.encode as encode

    b = load_backbone(BackboneConfig("fewshot-tiny", "", device="cpu", precision="bf16"))
    monkeypatch.setattr(encode, "_checked_precision", lambda *a: "fp32")
    paths = load_dataset("cub", cub_root).split("train").paths
    feats, _, used = encode_images(b, paths, num_workers=0)
    ref, _, _ = encode_images(load_backbone(BackboneConfig("fewshot-tiny", "", device="cpu", precision="fp32")), paths, num_workers=0)
    assert used == "fp32" and b._low_visual is None and np.array_equal(feats, ref)


def test_cached_splits_skips_entries_of_an_older_format(tiny_backbone, cub_root, tmp_path, monkeypatch):
    import fewshot_core.feature_status as feature_status

    ds = load_dataset("cub", cub_root)
    image_features(FeatureCache(tmp_path), tiny_backbone, ds, "train", num_workers=0)
    assert cached_splits(tmp_path, ds, "fewshot-tiny", "")["train"]
    monkeypatch.setattr(feature_status, "FORMAT_VERSION", feature_status.FORMAT_VERSION + 1)  # the next format: the entry is a miss
    assert not cached_splits(tmp_path, ds, "fewshot-tiny", "")["train"]


def test_default_workers_decode_between_batches_on_a_small_cpu(monkeypatch, tiny_backbone, cub_root):
    import os

    import torch

    from fewshot_core.encode import default_workers

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for cores, on_cpu, on_gpu in ((2, 0, 1), (4, 0, 3), (8, 1, 7), (16, 2, 15), (64, 4, 16)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert (default_workers(cpu), default_workers(cuda)) == (on_cpu, on_gpu)
    threads, seen, real = torch.get_num_threads(), [], torch.set_num_threads
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # one default worker, which takes a core from the encoder meanwhile
    real(8)
    try:
        monkeypatch.setattr(torch, "set_num_threads", lambda n: seen.append(n) or real(n))
        feats, _, _ = encode_images(tiny_backbone, load_dataset("cub", cub_root).split("train").paths)
        assert seen == [7, 8] and torch.get_num_threads() == 8 and np.abs(feats).sum(1).min() > 0  # and gives it back
    finally:
        real(threads)
