"""Accuracy on groups of classes, e.g. the offline demo's classes seen in its CLIP's training vs held out.

A demo number means little without this split: the demo CLIP never saw 24 of the 48 attribute
combinations, so zero-shot and few-shot behave differently on them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import TRANSLATIONS
from ..report import selected_predictions
from ..runs import RunFolder
from ..stats import mean_sd
from ..storage import read_json


def group_accuracy(run_dir: Path | str, results: pd.DataFrame, held_out: np.ndarray) -> pd.DataFrame:
    """Test accuracy (%, mean over seeds) on the held-out classes and on the others, per shot count and classifier.

    Args:
        held_out: (C,) True for the classes of the second group (label order of the run's test_index.json).

    Returns:
        columns shots (0: zero-shot), setting ("zeroshot", "image_only" or a translation with its text
        count chosen on validation), all, seen, held_out, and seen_std, held_out_std (sample SD over
        seeds); one row per cell that has stored predictions.
    """
    run = RunFolder(run_dir)
    labels = np.asarray(read_json(run.path / "test_index.json")["labels"])
    held = np.asarray(held_out, bool)[labels]  # (N_test,) image of a held-out class
    cells = [(0, "zeroshot")] + [(int(k), s) for k in sorted(results.shots.unique()) if k > 0 for s in ("image_only", *TRANSLATIONS)]
    rows = []
    for shots, setting in cells:
        preds = selected_predictions(run, results, shots, setting) if setting == "zeroshot" or _has(results, shots, setting) else []
        if not preds:
            continue
        right = np.array([p == labels for p in preds])  # (S, N_test) per seed
        correct = right.mean(axis=0)  # (N_test,) share of seeds right
        rows.append(
            {
                "shots": shots,
                "setting": setting,
                "all": 100 * correct.mean(),
                "seen": 100 * correct[~held].mean(),
                "held_out": 100 * correct[held].mean(),
                "seen_std": mean_sd(100 * right[:, ~held].mean(axis=1))[1],  # sample SD over seeds (NaN with one)
                "held_out_std": mean_sd(100 * right[:, held].mean(axis=1))[1],
            }
        )
    return pd.DataFrame(rows, columns=["shots", "setting", "all", "seen", "held_out", "seen_std", "held_out_std"])


def _has(results: pd.DataFrame, shots: int, setting: str) -> bool:
    adapter = results[(results.method == "adapter") & (results.shots == shots)]
    if setting == "image_only":
        return bool((adapter.texts == 0).any())
    return "translation" in adapter and bool(((adapter.translation == setting) & (adapter.texts > 0)).any())


def format_group_accuracy(table: pd.DataFrame) -> str:
    """The table as text: one line per shot count, "seen / held-out" per classifier."""
    if table.empty:
        return "seen / held-out classes: no stored predictions"
    settings = list(dict.fromkeys(table.setting))
    lines = [f"{'shots':>5}  " + "  ".join(f"{s:>17}" for s in settings) + "   (test %, seen / held-out classes)"]
    for shots, part in table.groupby("shots"):
        by = part.set_index("setting")
        cells = [f"{by.seen[s]:6.2f} / {by.held_out[s]:6.2f}" if s in by.index else "-" for s in settings]
        lines.append(f"{int(shots):>5}  " + "  ".join(f"{c:>17}" for c in cells))
    return "\n".join(lines)


def demo_held_out(config: dict, class_names: list[str]) -> np.ndarray | None:
    """(C,) held-out mask when a run was made on the demo with the committed demo CLIP, else None.

    The held-out classes come from the record beside the weights, and only apply to those exact weights
    (same SHA-256): another CLIP saw other classes.
    """
    from ..feature_status import weights_identity
    from .clip import DEMO_WEIGHTS, held_out_mask

    features = config.get("features", {})
    if config.get("dataset") != "demo" or not DEMO_WEIGHTS.is_file():
        return None
    if features.get("weights_sha256") != weights_identity(str(DEMO_WEIGHTS)).get("weights_sha256"):
        return None
    return held_out_mask(class_names)
