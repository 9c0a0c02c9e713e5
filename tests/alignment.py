"""A test helper: how much training a Q-Former moves held-out descriptions towards their class's images."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from fewshot_core.bundle import FeatureBundle
from fewshot_core.qformer import QFormerConfig, QFormerTrainConfig, TextSide, TextToImageQFormer, alignment, train_qformer, translate


def held_out_alignment(
    bundle: FeatureBundle, arch: QFormerConfig, train: QFormerTrainConfig, held_out_per_class: int = 5, device: str = "cpu"
) -> dict[str, Any]:
    """Train on the train split with the last ``held_out_per_class`` descriptions of each class held out; report the
    held-out descriptions' alignment (``qformer.alignment``) after training and untrained, and the losses."""
    text = TextSide(bundle.description_features, bundle.description_labels, bundle.description_tokens, bundle.description_mask)
    rank = np.zeros(len(text.labels), int)
    for c in np.unique(text.labels):
        idx = np.flatnonzero(text.labels == c)
        rank[idx] = np.arange(len(idx))
    per_class = bundle.descriptions_per_class()[text.labels]
    held = rank >= per_class - held_out_per_class
    trained = train_qformer(bundle.train_features, bundle.train_labels, text.subset(np.flatnonzero(~held)), arch, train, device)
    torch.manual_seed(train.seed)
    untrained = TextToImageQFormer(arch, text.pooled.shape[1], bundle.dim)
    test_text = text.subset(np.flatnonzero(held))
    measure = lambda m: alignment(translate(m, test_text), test_text.labels, bundle.test_features, bundle.test_labels)  # noqa: E731
    return {"trained": measure(trained.model), "untrained": measure(untrained), "pairs_per_s": trained.pairs_per_s, "losses": trained.losses}
