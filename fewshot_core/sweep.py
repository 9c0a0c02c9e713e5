"""Sweeps over shots x text counts x seeds x translations x methods into a resumable run folder.

Protocols (which labelled images the text side may learn from):

- ``support`` (default): only the k-shot support images of that (shots, seed). A Q-Former is trained
  per (shots, seed), and the mean shift uses the support images' mean. The run's config.json records
  ``"qformer_images_per_class": null``: the translator saw k images per class, the shot count itself.
- ``train-split``: every training image except the validation images (the paper's set-up). A Q-Former
  is trained per seed and shared by every shot count of that seed; config.json records
  ``qformer_images_per_class`` as the median number of labelled images per class it was trained on,
  so every number made this way can say "Q-Former trained on N labelled images per class".

What one unit computes (every method for one (shots, seed)) is in ``units.py``; how descriptions become
pseudo image features under each protocol, in ``translator.py``.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .baselines import zero_shot_predict
from .bundle import FeatureBundle, bundle_fingerprint
from .config import METHODS, PROTOCOLS, TRANSLATIONS, AdapterConfig, QFormerTrainConfig, SweepConfig  # noqa: F401 (re-exported)
from .datasets.base import check_class_sizes
from .executors import LOCAL, Executor
from .layout import CacheLayout
from .progress import CancelFn, ProgressFn, never_cancel, no_progress
from .runs import RunFolder, library_versions
from .storage import content_key, timestamp
from .units import UnitResult, held_out_validation, qformer_images_per_class, unit_name, zero_shot_rows, zero_shot_validation


def run_sweep(
    bundle: FeatureBundle,
    cfg: SweepConfig,
    run_dir: Path | str,
    qformer_cache: CacheLayout | Path | str | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
    executor: Executor = LOCAL,
) -> pd.DataFrame:
    """Run (or resume) a sweep into ``run_dir`` and return its results table.

    Units are (shots, seed) pairs, seed-major, so under ``train-split`` each seed's Q-Former is trained
    once and reused by its shot counts. A damaged or incomplete unit file is recomputed. ``executor`` runs
    the units (``executors.py``: here, or as Ray tasks with the Q-Formers they need); the run folder and the
    numbers are the same. ``qformer_cache``: the cache (root or layout) whose Q-Formers are reused; None: none kept.
    """
    cfg.validate()
    executor.check(cfg.device)
    run = RunFolder(run_dir)
    fingerprint = bundle_fingerprint(bundle)
    val_idx = held_out_validation(bundle, cfg)
    check_class_sizes(bundle.train_labels, val_idx, bundle.class_names, bundle.val_indices is not None)
    config = {
        "dataset": bundle.dataset,
        "sweep": asdict(cfg),
        "qformer_images_per_class": qformer_images_per_class(bundle.train_labels, val_idx, cfg.protocol),
        # Judge with CLIP prunes against training-image centroids: labels beyond the label budget (None: not pruned)
        "descriptions_pruned_with_labels_per_class": (bundle.provenance.get("description_provenance") or {}).get("pruned_with_labels_per_class"),
        "features": bundle.provenance,
        "features_sha256": fingerprint,
        "versions": library_versions(),
    }
    config["key"] = content_key({"sweep": config["sweep"], "features": fingerprint})
    run.start({**config, "created": timestamp()})
    run.drop_damaged_units()
    units = [(k, s) for s in cfg.seeds for k in cfg.shots]
    total = len(units) + 1
    run.save_test_index(bundle)
    if not run.done("zeroshot"):
        zs_pred = {"zeroshot": zero_shot_predict(bundle.test_features, bundle.class_text_features)} if "zeroshot" in cfg.methods else {}
        run.save_unit("zeroshot", zero_shot_rows(bundle, cfg, zero_shot_validation(bundle, cfg)), predictions=zs_pred)
    finished = 1 + sum(run.done(unit_name(k, s)) for k, s in units)
    on_progress(finished, total, "zero-shot done")
    todo = [(k, s) for k, s in units if not run.done(unit_name(k, s))]

    def save(shots: int, seed: int, result: UnitResult) -> None:
        nonlocal finished
        rows, extra, preds = result
        run.save_unit(unit_name(shots, seed), rows, {**extra, "executor": executor.name}, preds)
        run.write_tables()
        finished += 1
        on_progress(finished, total, f"{shots}-shot seed {seed} done")

    executor.run_units(bundle, cfg, todo, val_idx, qformer_cache, save, should_cancel, on_progress)
    return run.write_tables()
