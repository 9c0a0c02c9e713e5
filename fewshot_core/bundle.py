"""Everything the method and the baselines need, as arrays: the ``FeatureBundle`` type.

A ``FeatureBundle`` is the hand-off from features (CLIP image features of both splits, class-prompt
features, description features) to the experiments; ``assemble.py`` builds one for a dataset,
``synthetic.py`` generates one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
