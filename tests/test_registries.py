"""The registries end to end: a toy translation and a toy description source, each added by one registration
call alone, run through the sweep, Table 1, Figure 4, the Results page, the CLI and ``describe``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from fewshot_core import FewShotError
from fewshot_core.cli import build_parser, main
from fewshot_core.config import AdapterConfig, SweepConfig
from fewshot_core.datasets import dataset_info, load_dataset
from fewshot_core.datasets.sampling import sample_few_shot, validation_indices
from fewshot_core.descriptions.generate import DescribeRequest, describe
from fewshot_core.descriptions.registry import SOURCE_REGISTRY, SourceInfo, register_source, source_info
from fewshot_core.descriptions.sources import Completion, GenerationSettings
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.estimate import qformer_trainings
from fewshot_core.plots import figure4, gains_figure
from fewshot_core.report import format_table1, summary_json, table1, table1_display
from fewshot_core.storage import default_cache_root
from fewshot_core.sweep import run_sweep
from fewshot_core.synthetic import SyntheticSpec, make_synthetic
from fewshot_core.translations import TRANSLATION_REGISTRY, TRANSLATIONS, Translation, register_translation, translation
from fewshot_core.translator import Translator
from fewshot_core.vectors import l2_normalize

NOISE = 0.05  # the toy's noise scale
COLOUR = "#2e8b57"


def identity_noise(x) -> np.ndarray:
    """The toy: each description plus Gaussian noise of scale NOISE drawn from the unit's seed, re-normalised."""
    rng = np.random.default_rng(x.seed)
    return l2_normalize(x.descriptions + NOISE * rng.standard_normal(x.descriptions.shape)).astype(np.float32)


TOY = Translation("identity-noise", "noisy identity", COLOUR, False, identity_noise, explanation="Each description plus a little noise.")


@pytest.fixture
def register():
    """Register translations the one way CONTRIBUTING.md says; each is removed after the test."""
    added: list[str] = []
    yield lambda t: added.append(register_translation(t).name) or t
    for name in added:
        TRANSLATION_REGISTRY.pop(name)


@pytest.fixture
def toy(register):
    return register(TOY)


@pytest.fixture(scope="module")
def bundle():
    return make_synthetic(SyntheticSpec(num_classes=8, dim=16, train_per_class=12, test_per_class=5, descriptions_per_class=6, seed=3))


def _cfg(**kw) -> SweepConfig:
    return SweepConfig(
        **{"shots": [1, 2], "text_counts": [0, 2], "seeds": [0, 1], "methods": ["adapter", "zeroshot"], "adapter": AdapterConfig(steps=20), **kw}
    )


def test_a_registered_translation_is_known_everywhere(toy):
    assert translation("identity-noise") is toy and list(TRANSLATIONS)[-1] == "identity-noise"
    assert "identity-noise" in SweepConfig().translations  # the default sweep runs every registered translation
    SweepConfig(translations=["identity-noise"]).validate()
    args = build_parser().parse_args(["reproduce", "--dataset", "synthetic", "--translations", "raw", "identity-noise"])
    assert args.translations == ["raw", "identity-noise"]  # --translations offers it
    with pytest.raises(FewShotError, match="Cannot register"):
        register_translation(replace(toy, name="identity_noise"))  # would share its results column
    with pytest.raises(FewShotError, match="Cannot register"):
        register_translation(replace(toy, name="none"))


def test_the_translator_dispatches_to_the_registered_function(toy, bundle):
    cfg = _cfg(translations=["identity-noise"])
    val = validation_indices(bundle.train_labels, cfg.val_per_class)
    split = sample_few_shot(bundle.train_labels, 2, 1)
    out = Translator(bundle, cfg, "cpu", None, val).pseudo_features("identity-noise", split)
    noise = np.random.default_rng(1).standard_normal(bundle.description_features.shape)  # seed 1: the split's
    by_hand = bundle.description_features + NOISE * noise
    assert np.allclose(out, by_hand / np.linalg.norm(by_hand, axis=1, keepdims=True), atol=1e-6)


def test_a_tiny_sweep_shows_the_toy_with_its_label_and_colour(toy, bundle, tmp_path):
    results = run_sweep(bundle, _cfg(translations=["raw", "identity-noise"]), tmp_path / "run")
    adapter = results[results.method == "adapter"]
    assert set(adapter.translation) == {"none", "raw", "identity-noise"}
    assert len(adapter[adapter.translation == "identity-noise"]) == 2 * 2  # 2 shot counts x 2 seeds, 2 texts each

    table = table1(results)
    assert {"identity_noise", "identity_noise_gain", "identity_noise_gain_p_holm"} <= set(table.columns)
    assert "+ noisy identity text (texts)" in format_table1(table)
    assert "+ noisy identity text gain [95% CI]" in table1_display(table)
    summary = summary_json(results, {"sweep": {"seeds": [0, 1]}})
    assert all("identity-noise" in row["translations"] for row in summary["rows"])

    traces = {t.name: t for t in figure4(results).data}
    toy_trace = traces["image + noisy identity text (text count chosen per seed on validation)"]
    assert toy_trace.line.color == COLOUR and list(toy_trace.x) == [1, 2]
    gains = [t for t in gains_figure(table).data if t.name == "noisy identity text"]
    assert gains and all(t.marker.color == COLOUR for t in gains)


def test_the_results_page_shows_the_toy(toy, bundle):
    import streamlit as st

    from .apppage import open_page

    st.cache_data.clear()  # the page reads this test's run afresh
    run_sweep(bundle, _cfg(translations=["raw", "identity-noise"]), default_cache_root() / "runs" / "toy")
    app = open_page("results")
    assert not app.exception, app.exception
    assert "noisy identity" in set(app.table[0].value.translation)  # the headline "Does text help?"
    assert "+ noisy identity text (texts)" in app.dataframe[0].value.columns  # Table 1, every column


def test_a_translation_that_trains_is_trained_once_per_seed_under_train_split_and_counted(register, bundle, tmp_path):
    calls = []
    learn = lambda x: calls.append((x.seed, len(x.image_index))) or identity_noise(x)  # noqa: E731
    register(replace(TOY, name="trained-noise", needs_training=True, translate=learn))
    run_sweep(bundle, _cfg(translations=["trained-noise"], protocol="train-split"), tmp_path / "split")
    assert sorted(s for s, _ in calls) == [0, 1] and len({n for _, n in calls}) == 1  # one per seed, the same images at every shot count
    calls.clear()
    run_sweep(bundle, _cfg(translations=["trained-noise"]), tmp_path / "support")
    assert sorted(calls) == [(0, 8), (0, 16), (1, 8), (1, 16)]  # support: one per unit, on its k-shot support set (8 classes)
    assert qformer_trainings(_cfg(translations=["raw", "trained-noise"])) == 4  # the estimate counts it
    assert qformer_trainings(_cfg(translations=["raw", "mean-shift"])) == 0


class Echo:
    """A toy LLM: each prompt comes back as two lines."""

    def __init__(self):
        self.prompts: list[str] = []

    def complete(self, prompts, settings, on_done, on_notice=None, deadline=None) -> None:
        for i, prompt in enumerate(prompts):
            self.prompts.append(prompt)
            text = f"1. {prompt}\n2. It was written by the model {settings.model}."
            on_done(i, Completion([text], {"prompt_tokens": 3, "completion_tokens": 4}))


def _refuse_broken(request, dataset) -> None:
    if request.generation_settings().model == "broken":
        raise FewShotError("The echo model 'broken' cannot run; choose another.")


@pytest.fixture
def echo():
    """The toy description source, registered the one way CONTRIBUTING.md says, and removed after the test."""
    made = Echo()
    info = register_source(SourceInfo("echo", "repeats the prompt", make=lambda *a: made, check=_refuse_broken, default_model="parrot-1"))
    yield info, made
    SOURCE_REGISTRY.pop("echo")


def test_a_registered_description_source_runs_end_to_end(echo, cub_root, tmp_path, capsys):
    info, made = echo
    cache = tmp_path / "cache"
    base = ["describe", "--dataset", "cub", "--root", str(cub_root), "--cache", str(cache), "--source", "echo"]
    assert main([*base, "--prompt", "What does a {class_name} look like?"]) == 0  # --source offers it
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["classes_done"] == 3
    [dset] = DescriptionStore(cache).list("cub")
    assert dset.meta["source"] == "echo" and dset.meta["settings"]["model"] == "parrot-1"  # its own default model keys the set
    assert dset.lines(1) == ["What does a Laysan Albatross look like?", "It was written by the model parrot-1."]
    assert made.prompts[1] == "What does a Laysan Albatross look like?"

    assert main([*base, "--model", "broken"]) == 2  # its check refuses before anything is stored
    assert "The echo model 'broken' cannot run" in capsys.readouterr().err
    assert len(DescriptionStore(cache).list("cub")) == 1


def test_each_source_has_its_own_default_model(cub_root, tmp_path):
    assert DescribeRequest().source == "local" and DescribeRequest().generation_settings().model == "smollm2"
    assert DescribeRequest("openai").generation_settings().model == "gpt-3.5-turbo"
    assert DescribeRequest("local", settings=GenerationSettings(model="my-model")).key_settings()["model"] == "my-model"
    assert source_info("openai").needs_key and not source_info("local").needs_key and not source_info("attributes").completes
    with pytest.raises(FewShotError, match="Unknown description source 'nope'"):
        describe(load_dataset("cub", cub_root), DescribeRequest("nope"), tmp_path)


def test_dataset_knowledge_lives_in_its_registry_entry():
    from fewshot_core.baselines import templates_for
    from fewshot_core.descriptions.prompt import render_prompt

    assert dataset_info("pets").noun == "pet" and templates_for("pets") == ["a photo of a {}, a type of pet."]
    assert render_prompt("A {class_name}, a kind of {dataset}.", "Sphynx", "pets") == "A Sphynx, a kind of pet."
    assert not dataset_info("demo").needs_root and dataset_info("demo").attribute_sentences is not None
    assert [a.subdir for a in dataset_info("pets").archives] == ["oxford-iiit-pet"] * 2 and not dataset_info("folder").archives


def test_a_registered_generated_dataset_needs_no_demo_special_case(tmp_path, monkeypatch):
    """What the demo is (generated under the cache, an offline description source, its own CLIP) is its registry
    entry's, so a second generated dataset gets the same treatment from the CLI, the settings, the app and the words."""
    from fewshot_app.context import default_source
    from fewshot_core import datasets
    from fewshot_core.cli.resources import resolve_paths
    from fewshot_core.config import BackboneConfig
    from fewshot_core.jobspec import DatasetSpec, FeaturesSpec, resolve_backbone
    from fewshot_core.settings import LabSettings
    from fewshot_core.spec_words import dataset_words

    own = BackboneConfig("fewshot-tiny", "", device="cpu")
    toy = replace(dataset_info("demo"), name="toyshapes", title="Toy shapes", own_clip=lambda device: replace(own, device=device))
    monkeypatch.setitem(datasets._REGISTRY, "toyshapes", toy)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    assert datasets.is_generated("toyshapes") and not datasets.is_generated("cub") and not datasets.is_generated("synthetic")
    assert LabSettings(dataset="toyshapes", cache_root=str(tmp_path)).dataset_folder() == str(tmp_path / "toyshapes-data")
    spec = resolve_paths(FeaturesSpec(dataset=DatasetSpec("toyshapes"), cache=str(tmp_path)))
    assert spec.dataset.root == str(tmp_path / "toyshapes-data")
    assert resolve_backbone("toyshapes", device="cpu") == own and resolve_backbone("toyshapes", model="ViT-B-32").model == "ViT-B-32"
    assert default_source("toyshapes") == "attributes" and default_source("cub") == "local"
    assert dataset_words(DatasetSpec("toyshapes")) == "toyshapes (generated)"
