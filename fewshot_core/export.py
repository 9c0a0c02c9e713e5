"""Exported image features for a user's own analysis: one ``<split>.npz`` per split plus ``provenance.json``.

Each npz holds ``features`` (N, D) float32 (not normalised), ``labels`` (N,) int64, ``valid`` (N,) bool
(False: the image could not be read and its row is zeros) and ``class_names`` (C,) str; load with
``np.load(path)`` (no pickle needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .backbone import Backbone
from .datasets.base import ImageDataset
from .errors import FewShotError
from .features import ImageFeatures, split_fingerprint
from .storage import atomic_path, timestamp, write_json


def check_export_dir(out_dir: Path | str) -> Path:
    """The export folder, refused early if it is a file."""
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise FewShotError(f"--export {out} is a file; give a folder to write train.npz, test.npz and provenance.json into.")
    return out


def export_features(out_dir: Path | str, dataset: ImageDataset, backbone: Backbone, features: dict[str, ImageFeatures]) -> dict[str, Any]:
    """Write ``<split>.npz`` for every split in ``features`` and ``provenance.json`` into ``out_dir``.

    Returns:
        the provenance record (also written to ``provenance.json``).
    """
    out = check_export_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = np.array(dataset.display_names, dtype=str)
    for split, feats in features.items():
        with atomic_path(out / f"{split}.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    features=feats.features.astype(np.float32),
                    labels=feats.labels.astype(np.int64),
                    valid=feats.valid.astype(bool),
                    class_names=names,
                )
    provenance = {
        "model": backbone.config.model,
        "weights": {k: v for k, v in backbone.identity.items() if k.startswith("weights")},
        "quick_gelu": backbone.identity.get("quick_gelu"),
        "embed_dim": backbone.embed_dim,
        "dataset": dataset.name,
        "dataset_root": str(dataset.root),
        "num_classes": dataset.num_classes,
        "splits": {
            split: {
                "file": f"{split}.npz",
                "images": len(feats.labels),
                "unreadable": int((~feats.valid).sum()),
                "precision": feats.precision,
                "fingerprint": split_fingerprint(dataset, split),
            }
            for split, feats in features.items()
        },
        "normalised": False,
        "fewshot_lab": __version__,
        "created": timestamp(),
    }
    write_json(out / "provenance.json", provenance)
    return provenance
