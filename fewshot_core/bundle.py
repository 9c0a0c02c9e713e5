"""Everything the method and the baselines need, as arrays, and how it is assembled for a dataset.

A ``FeatureBundle`` is the hand-off from features (CLIP image features of both splits, class-prompt
features, description features) to the experiments.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backbone import Backbone, BackboneConfig, load_backbone
from .baselines import templates_for, unit
from .datasets import ImageDataset, load_dataset
from .descriptions.json_io import descriptions_for_classes, load_descriptions
from .descriptions.store import description_provenance
from .errors import FewShotError
from .features import FeatureCache, image_features, text_features, training_features
from .progress import ProgressFn, no_progress
from .storage import content_key


@dataclass
class FeatureBundle:
    """Cached CLIP features of one dataset, ready for Q-Former, adapters and baselines."""

    dataset: str
    class_names: list[str]  # display names, label order
    train_features: np.ndarray  # (N_train, D) image features of the training split
    train_labels: np.ndarray  # (N_train,)
    test_features: np.ndarray  # (N_test, D)
    test_labels: np.ndarray  # (N_test,)
    class_text_features: np.ndarray  # (C, D) zero-shot class-name prompt features (templates averaged)
    description_features: np.ndarray  # (M, D) pooled text features of the class descriptions
    description_labels: np.ndarray  # (M,) class of each description
    description_tokens: np.ndarray | None = None  # (M, L, D) per-token text states, if computed
    description_mask: np.ndarray | None = None  # (M, L) True on real tokens
    provenance: dict[str, Any] = field(default_factory=dict)  # model, weights, description source, ...
    test_paths: list[str] | None = None  # image file of each test row, when the features came from files
    val_indices: np.ndarray | None = None  # (V,) train rows that are the dataset's own validation list; None = the sampler draws it

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def dim(self) -> int:
        return int(self.train_features.shape[1])

    def descriptions_per_class(self) -> np.ndarray:
        """(C,) number of descriptions of each class."""
        return np.bincount(self.description_labels, minlength=self.num_classes)


def bundle_fingerprint(bundle: FeatureBundle) -> str:
    """SHA-256 over every array the results depend on."""
    h = hashlib.sha256()
    for a in (
        bundle.train_features,
        bundle.train_labels,
        bundle.test_features,
        bundle.test_labels,
        bundle.class_text_features,
        bundle.description_features,
        bundle.description_labels,
    ):
        h.update(np.ascontiguousarray(a).tobytes())
    if bundle.val_indices is not None:  # a given validation list changes the results
        h.update(b"val" + np.ascontiguousarray(bundle.val_indices, np.int64).tobytes())
    return h.hexdigest()


def class_prompt_features(cache: FeatureCache, backbone: Backbone, dataset_name: str, display_names: list[str]) -> np.ndarray:
    """(C, D) zero-shot class embeddings: each template filled with the class name, normalised, averaged."""
    templates = templates_for(dataset_name)
    texts = [t.format(name) for name in display_names for t in templates]
    pooled = unit(text_features(cache, backbone, texts)["pooled"]).reshape(len(display_names), len(templates), -1)
    return pooled.mean(axis=1)


def bundle_from_dataset(
    dataset: ImageDataset,
    backbone: Backbone,
    cache: FeatureCache,
    descriptions: dict[str, list[str]],
    with_tokens: bool = False,
    on_progress: ProgressFn = no_progress,
    executor: str = "local",
    ray_address: str | None = None,
) -> FeatureBundle:
    """Everything the sweep needs for a real dataset, from the feature cache (image features computed on a
    miss by ``executor``: this process, or Ray Data on the cluster at ``ray_address``)."""
    extract = dict(on_progress=on_progress, executor=executor, ray_address=ray_address)
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
    cache_root: Path | str,
    with_tokens: bool = False,
    on_progress: ProgressFn = no_progress,
    backbone: Backbone | None = None,
    split_file: Path | str | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> FeatureBundle:
    """The FeatureBundle for a dataset (``synthetic`` needs nothing else), shared by the CLI and the app.

    ``backbone`` may be an already loaded one (the app keeps one per process); else it is loaded.

    Args:
        descriptions: a ``{"class name": [...]}`` JSON file or a stored description set's folder.
        split_file: a CoOp-format split file replacing the dataset's splits and the validation draw.
        executor, ray_address: where missing image features are extracted (``features.image_features``).
    """
    if dataset_name == "synthetic":
        from .synthetic import make_synthetic

        return make_synthetic()
    if dataset_name == "demo" and descriptions is None:
        from .descriptions.generate import DescribeRequest, describe

        descriptions = describe(load_dataset("demo", root, split_file), DescribeRequest("attributes"), cache_root).store  # offline, instant
    if (root is None and dataset_name != "demo") or descriptions is None:
        raise FewShotError("Reproducing on a real dataset needs --root (the dataset folder) and --descriptions (a JSON file or description set).")
    dataset = load_dataset(dataset_name, root, split_file)
    mapping = load_descriptions(descriptions, dataset.display_names)
    backbone = backbone or load_backbone(backbone_cfg)
    bundle = bundle_from_dataset(
        dataset, backbone, FeatureCache(cache_root), mapping, with_tokens, on_progress, executor=executor, ray_address=ray_address
    )
    bundle.provenance["descriptions"] = str(descriptions)
    bundle.provenance["descriptions_sha256"] = hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()
    bundle.provenance["description_provenance"] = description_provenance(descriptions)  # pruned by Judge with CLIP? with how many labels?
    return bundle


def default_run_dir(cache_root: Path, bundle: FeatureBundle, cfg) -> Path:
    """``<cache>/runs/<dataset>-<key of features and settings>``: the same inputs resume the same run."""
    return Path(cache_root) / "runs" / f"{bundle.dataset}-{content_key({'f': bundle_fingerprint(bundle), 'cfg': asdict(cfg)}, 12)}"
