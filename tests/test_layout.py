"""One owner of the cache layout: the CLI and the app find the same folders under any cache root (issue #22)."""

import json

import pytest
import streamlit as st

from fewshot_core import FewShotError
from fewshot_core.cli import main
from fewshot_core.datasets import load_dataset
from fewshot_core.feature_status import cached_splits
from fewshot_core.layout import CacheLayout
from fewshot_core.settings import LabSettings, save_settings, settings_file

from .apppage import open_page

TINY = ["--model", "fewshot-tiny", "--pretrained", "", "--device", "cpu", "--precision", "fp32"]


def test_every_folder_of_the_cache_is_named_by_the_layout(tmp_path):
    cache = CacheLayout(tmp_path)
    named = {p.name for p in (cache.features, cache.runs, cache.qformers, cache.descriptions, cache.uploads, cache.models, cache.jobs)}
    assert named == {"features", "runs", "qformers", "descriptions", "uploads", "models", "jobs"}
    assert cache.demo_data == tmp_path / "demo-data" and cache.settings_file.parent == cache.choices_file.parent == tmp_path
    assert cache.run_dir("cub-0123abcd") == tmp_path / "runs" / "cub-0123abcd"
    assert cache.job_dir("judge", "attributes-1f2e") == tmp_path / "jobs" / "judge-attributes-1f2e" and cache.job_dir("train").name == "train"
    for bad in ("../x", "a/b", "", "."):
        with pytest.raises(FewShotError, match="names are letters, digits"):
            cache.run_dir(bad)
    assert CacheLayout.of(tmp_path) == cache == CacheLayout.of(cache)


def test_resolve_takes_the_environment_and_refuses_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FEWSHOT_CACHE", str(tmp_path / "env-cache"))
    assert CacheLayout.resolve().root == tmp_path / "env-cache" and CacheLayout.resolve(tmp_path / "given").root == tmp_path / "given"
    assert settings_file() == tmp_path / "env-cache" / "app_settings.json"  # the app's own files: in the default cache
    (tmp_path / "file").write_text("x")
    with pytest.raises(FewShotError, match="--cache .*file is a file, not a folder"):
        CacheLayout.resolve(tmp_path / "file")
    monkeypatch.setenv("FEWSHOT_CACHE", str(tmp_path / "file"))
    with pytest.raises(FewShotError, match=r"\$FEWSHOT_CACHE .* is a file"):
        CacheLayout.resolve()


@pytest.fixture
def encoded_elsewhere(tmp_path, capsys):
    """The demo encoded by the CLI into a cache folder that is not the default one ($FEWSHOT_CACHE: tmp_path/cache)."""
    other = tmp_path / "other-cache"
    assert main(["features", "--dataset", "demo", "--cache", str(other), *TINY]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cache"] == str(other / "features") and not summary["train"]["cache_hit"]
    return other


def test_features_encoded_with_another_cache_are_cached_for_that_cache(encoded_elsewhere, tmp_path):
    demo = load_dataset("demo", None, cache=encoded_elsewhere)
    assert demo.root.parent == CacheLayout(encoded_elsewhere).demo_data  # the folder the job generated the demo in
    assert cached_splits(CacheLayout(encoded_elsewhere), demo, "fewshot-tiny", "") == {"train": True, "test": True}
    assert not (tmp_path / "cache" / "demo-data").exists()  # nothing went to the default cache
    assert LabSettings(cache_root=str(encoded_elsewhere)).dataset_folder() == str(encoded_elsewhere / "demo-data")


def test_the_data_page_says_cached_for_a_demo_encoded_with_its_cache_folder(encoded_elsewhere, tmp_path):
    st.cache_data.clear()
    save_settings(LabSettings(dataset="demo", cache_root=str(encoded_elsewhere), model="fewshot-tiny", pretrained="", device="cpu"))
    app = open_page("data")
    assert not app.exception, app.exception
    assert any("Features all cached" in c.value for c in app.caption), [c.value for c in app.caption]
    button = next(b for b in app.button if b.label == "Features cached")
    assert button.disabled  # nothing left to encode
    assert not (tmp_path / "cache" / "demo-data").exists()  # the page did not generate a second demo in the default cache
