"""How long a sweep will take here: a short measured calibration on this machine, scaled to the grid.

The calibration runs the real sweep code on synthetic features of the same size (classes, images and
descriptions per class, feature width) for one unit (the largest shot count, one seed) with a 2-epoch
Q-Former. The progress events time the Q-Former epochs; the rest of the unit is the adapter, linear
probe and Tip-Adapter work. The estimate scales each part by how often the full sweep does it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace

from .progress import CancelFn, never_cancel
from .sweep import SweepConfig, run_sweep
from .synthetic import SyntheticSpec, make_synthetic

CALIBRATION_EPOCHS = 2  # two epochs: the gap between their progress events is one epoch's time


@dataclass
class Calibration:
    """Measured seconds on this machine (see the module docstring)."""

    seconds_per_qformer_epoch: float  # one Q-Former epoch on the training images
    seconds_per_unit: float  # one (shots, seed) unit without the Q-Former: adapters for every text count, probes
    seconds_measured: float  # how long the calibration itself took


def calibrate(cfg: SweepConfig, spec: SyntheticSpec, should_cancel: CancelFn = never_cancel) -> Calibration:
    """Time one unit of ``cfg`` on synthetic features shaped by ``spec`` (seconds, on ``cfg.device``)."""
    bundle = make_synthetic(spec)
    probe = replace(cfg, shots=[max(cfg.shots)], seeds=[0], qformer_train=replace(cfg.qformer_train, epochs=CALIBRATION_EPOCHS))
    epochs: list[float] = []

    def on_progress(done: int, total: int, message: str, step: str = "", metrics: dict | None = None) -> None:
        if step == "qformer":
            epochs.append(time.perf_counter())

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fewshot-calibration-") as run_dir:
        run_sweep(bundle, probe, run_dir, qformer_cache=None, on_progress=on_progress, should_cancel=should_cancel)
    total = time.perf_counter() - start
    per_epoch = epochs[-1] - epochs[-2] if len(epochs) >= 2 else 0.0
    return Calibration(per_epoch, max(0.0, total - per_epoch * len(epochs)), total)


def qformer_trainings(cfg: SweepConfig) -> int:
    """How many Q-Formers the sweep ``cfg`` trains: one per seed under train-split (reused across its shot
    counts), one per (shots, seed) unit under support, none without the Q-Former translation or texts."""
    if "qformer" not in cfg.translations or max(cfg.text_counts, default=0) == 0:
        return 0
    return len(cfg.seeds) * (1 if cfg.protocol == "train-split" else len(cfg.shots))


def estimate_seconds(cfg: SweepConfig, calibration: Calibration) -> float:
    """Seconds the full sweep ``cfg`` should take: its Q-Former trainings times epochs, plus every unit.
    Units already in a run folder or a cached Q-Former make it faster."""
    units = len(cfg.shots) * len(cfg.seeds)
    return qformer_trainings(cfg) * cfg.qformer_train.epochs * calibration.seconds_per_qformer_epoch + units * calibration.seconds_per_unit
