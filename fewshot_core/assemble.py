"""Assembling the ``FeatureBundle`` of a dataset: its image features (from the feature cache, computed on a miss by
an executor), class-prompt features and description features; and the run folder its sweep writes to by default."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .backbone import Backbone, BackboneConfig, load_backbone
from .baselines import templates_for
from .bundle import FeatureBundle, bundle_fingerprint
from .datasets import ImageDataset, dataset_info, load_dataset
from .descriptions.json_io import descriptions_for_classes, load_descriptions
from .descriptions.store import description_provenance
from .errors import FewShotError
from .executors import LOCAL, Executor
from .features import FeatureCache, image_features, text_features, training_features
from .layout import CacheLayout
from .progress import ProgressFn, no_progress
from .storage import content_key
from .vectors import l2_normalize


def class_prompt_features(cache: FeatureCache, backbone: Backbone, dataset_name: str, display_names: list[str]) -> np.ndarray:
    """(C, D) zero-shot class embeddings: each template filled with the class name, normalised, averaged."""
    templates = templates_for(dataset_name)
    texts = [t.format(name) for name in display_names for t in templates]
    pooled = l2_normalize(text_features(cache, backbone, texts)["pooled"]).reshape(len(display_names), len(templates), -1)
    return pooled.mean(axis=1)


def bundle_from_dataset(
    dataset: ImageDataset,
    backbone: Backbone,
    cache: FeatureCache,
    descriptions: dict[str, list[str]],
    with_tokens: bool = False,
    on_progress: ProgressFn = no_progress,
    executor: Executor = LOCAL,
) -> FeatureBundle:
    """Everything the sweep needs for a real dataset, from the feature cache (image features computed on a
    miss by ``executor``: this process, or Ray Data on a cluster)."""
    extract = dict(on_progress=on_progress, executor=executor)
    train, val_rows = training_features(cache, backbone, dataset, **extract)  # a val split is appended to train
    test = image_features(cache, backbone, dataset, "test", **extract)
    texts, labels, report = descriptions_for_classes(descriptions, dataset.class_names, dataset.display_names)
    if not texts:
        raise FewShotError("None of the description file's classes match this dataset's classes; check its class names.")
    desc = text_features(cache, backbone, texts, with_tokens=with_tokens, on_progress=on_progress)
    return FeatureBundle(
        dataset=dataset.name,
        class_names=dataset.display_names,
        train_features=train.features[train.valid],
        train_labels=train.labels[train.valid],
        test_features=test.features[test.valid],
        test_labels=test.labels[test.valid],
        test_paths=[str(p) for p, ok in zip(dataset.split("test").paths, test.valid) if ok],
        val_indices=None if val_rows is None else np.flatnonzero(np.isin(np.flatnonzero(train.valid), val_rows)),
        class_text_features=class_prompt_features(cache, backbone, dataset.name, dataset.display_names),
        description_features=desc["pooled"],
        description_labels=labels,
        description_tokens=desc.get("tokens"),
        description_mask=desc.get("mask"),
        provenance={
            **{k: v for k, v in backbone.identity.items() if k != "preprocess"},
            "precision": train.precision,
            "dataset_root": str(dataset.root),
            **dataset.provenance,  # split file and its SHA-256, folder split fraction and seed
            "unreadable_images": int((~train.valid).sum() + (~test.valid).sum()),
            "descriptions_matched": len(report.matched),
            "classes_without_descriptions": [dataset.display_names[c] for c in report.classes_without_descriptions],
            "description_keys_unmatched": report.unmatched_keys,
        },
    )


def build_bundle(
    dataset_name: str,
    root: Path | str | None,
    backbone_cfg: BackboneConfig,
    descriptions: Path | str | None,
    cache_root: CacheLayout | Path | str,
    with_tokens: bool = False,
    on_progress: ProgressFn = no_progress,
    backbone: Backbone | None = None,
    split_file: Path | str | None = None,
    executor: Executor = LOCAL,
) -> FeatureBundle:
    """The FeatureBundle for a dataset (``synthetic`` needs nothing else), shared by the CLI and the app.

    ``backbone`` may be an already loaded one (the app keeps one per process); else it is loaded.

    Args:
        root: the dataset folder (the demo's: None, its folder in the cache, ``CacheLayout.demo_data``).
        descriptions: a ``{"class name": [...]}`` JSON file or a stored description set's folder.
        cache_root: the cache (root or layout) holding the features, and the demo's descriptions.
        split_file: a CoOp-format split file replacing the dataset's splits and the validation draw.
        executor: where missing image features are extracted (``features.image_features``).
    """
    cache = CacheLayout.of(cache_root)
    if dataset_name == "synthetic":
        from .synthetic import make_synthetic

        return make_synthetic()
    info = dataset_info(dataset_name)
    if (root is None and info.needs_root) or (descriptions is None and not info.offline_source):
        raise FewShotError("Reproducing on a real dataset needs --root (the dataset folder) and --descriptions (a JSON file or description set).")
    dataset = load_dataset(dataset_name, root, split_file, cache)
    if descriptions is None:  # the dataset's offline source (the demo: its attribute sentences, offline, instant)
        from .descriptions.generate import DescribeRequest, describe

        descriptions = describe(dataset, DescribeRequest(info.offline_source), cache.root).store
    mapping = load_descriptions(descriptions, dataset.display_names)
    backbone = backbone or load_backbone(backbone_cfg)
    bundle = bundle_from_dataset(dataset, backbone, FeatureCache(cache), mapping, with_tokens, on_progress, executor=executor)
    bundle.provenance["descriptions"] = str(descriptions)
    bundle.provenance["descriptions_sha256"] = hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()
    bundle.provenance["description_provenance"] = description_provenance(descriptions)  # pruned by Judge with CLIP? with how many labels?
    return bundle


def default_run_dir(cache_root: CacheLayout | Path | str, bundle: FeatureBundle, cfg) -> Path:
    """``<cache>/runs/<dataset>-<key of features and settings>``: the same inputs resume the same run."""
    return CacheLayout.of(cache_root).run_dir(f"{bundle.dataset}-{content_key({'f': bundle_fingerprint(bundle), 'cfg': asdict(cfg)}, 12)}")
