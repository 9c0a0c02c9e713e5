"""How long a sweep will take here: a short measured calibration on this machine, scaled to the grid.

The calibration runs the real sweep code on synthetic features of the same size (classes, images and
descriptions per class, feature width) for the smallest and the largest shot count of one seed, with a
3-epoch Q-Former, after a warm-up unit at the fewest shots (torch's first-use costs, paid once by a
sweep, are timed there and not scaled by the unit count; they are over-counted by about one unit). The progress events time each unit and its Q-Former
epochs, hence seconds per Q-Former optimizer step; the rest of a unit is the adapter, linear probe and
Tip-Adapter work, interpolated linearly in the shot count between the two measured units. A sweep's
Q-Former time is then its trainings' optimizer steps (``QFormerTrainConfig.total_steps``: epochs over
max(images, descriptions) pairs, capped at ``max_steps``) times the seconds per step. ``benchmarks/bench_estimate.py`` compares the estimate
with the sweep it estimates.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, replace

import numpy as np

from .progress import CancelFn, never_cancel
from .sweep import SweepConfig, run_sweep
from .synthetic import SyntheticSpec, make_synthetic

CALIBRATION_EPOCHS = 3  # the gaps between their progress events are whole epochs (the median is taken)


@dataclass
class Calibration:
    """Measured seconds on this machine (see the module docstring)."""

    seconds_per_qformer_step: float  # one Q-Former optimizer step (a batch of pairs)
    seconds_per_unit: float  # one (shots, seed) unit at the largest shot count, without its Q-Former
    seconds_once: float  # paid once per sweep: torch's first use and the zero-shot unit
    seconds_measured: float  # how long the calibration itself took
    seconds_per_unit_fewest_shots: float | None = None  # the same at the smallest shot count (None: one shot count)
    shots: tuple[int, int] | None = None  # the smallest and largest shot counts measured


def calibrate(cfg: SweepConfig, spec: SyntheticSpec, should_cancel: CancelFn = never_cancel) -> Calibration:
    """Time units of ``cfg`` on synthetic features shaped by ``spec`` (seconds, on ``cfg.device``)."""
    shots = sorted({min(cfg.shots), max(cfg.shots)})
    probe = replace(cfg, shots=shots, seeds=[0], qformer_train=replace(cfg.qformer_train, epochs=CALIBRATION_EPOCHS))
    start = time.perf_counter()
    bundle = make_synthetic(spec)
    texts = sorted({0, min((t for t in cfg.text_counts if t > 0), default=0)})
    warm = replace(probe, shots=shots[:1], text_counts=texts, qformer_train=replace(probe.qformer_train, epochs=1))
    _timed_sweep(bundle, warm, should_cancel)
    warm_up = time.perf_counter() - start
    marks, epoch_marks_by_unit = _timed_sweep(bundle, probe, should_cancel)
    units, per_step = [], []
    for k, begin, end, epoch_marks in zip([0, *shots], marks, marks[1:], epoch_marks_by_unit):  # zero-shot first
        gaps = np.diff(epoch_marks)  # whole epochs (the first also builds the model)
        epoch = float(np.median(gaps)) if len(gaps) else 0.0
        units.append(max(0.0, end - begin - epoch * len(epoch_marks)))
        per_step += list(gaps / math.ceil(qformer_pairs(probe, spec, k) / probe.qformer_train.batch_size))
    return Calibration(
        seconds_per_qformer_step=float(np.median(per_step)) if per_step else 0.0,
        seconds_per_unit=units[-1],
        seconds_once=warm_up + units[0],
        seconds_measured=time.perf_counter() - start,
        seconds_per_unit_fewest_shots=units[1] if len(shots) == 2 else None,
        shots=(shots[0], shots[-1]),
    )


def _timed_sweep(bundle, cfg: SweepConfig, should_cancel: CancelFn) -> tuple[list[float], list[list[float]]]:
    """Run ``cfg`` in a scratch folder. Returns the start and then the time each unit finished (zero-shot
    first), and for each unit the times its Q-Former epochs ended."""
    marks, epoch_marks = [time.perf_counter()], [[]]

    def on_progress(done: int, total: int, message: str, step: str = "", metrics: dict | None = None) -> None:
        if step == "qformer":
            epoch_marks[-1].append(time.perf_counter())
        else:  # a unit finished
            marks.append(time.perf_counter())
            epoch_marks.append([])

    with tempfile.TemporaryDirectory(prefix="fewshot-calibration-") as run_dir:
        run_sweep(bundle, cfg, run_dir, qformer_cache=None, on_progress=on_progress, should_cancel=should_cancel)
    return marks, epoch_marks[:-1]


def qformer_pairs(cfg: SweepConfig, spec: SyntheticSpec, shots: int) -> int:
    """(image, description) pairs in one Q-Former epoch at ``shots``: max(images the protocol allows, descriptions)."""
    per_class = spec.train_per_class - cfg.val_per_class if cfg.protocol == "train-split" else min(shots, spec.train_per_class)
    return spec.num_classes * max(per_class, spec.descriptions_per_class)


def qformer_trainings(cfg: SweepConfig) -> int:
    """How many Q-Formers the sweep ``cfg`` trains: one per seed under train-split (reused across its shot
    counts), one per (shots, seed) unit under support, none without the Q-Former translation or texts."""
    if "qformer" not in cfg.translations or max(cfg.text_counts, default=0) == 0:
        return 0
    return len(cfg.seeds) * (1 if cfg.protocol == "train-split" else len(cfg.shots))


def unit_seconds(calibration: Calibration, shots: int) -> float:
    """One unit's seconds without its Q-Former at ``shots``: linear between the two measured shot counts."""
    if calibration.seconds_per_unit_fewest_shots is None or calibration.shots is None:
        return calibration.seconds_per_unit
    (low, high), (t_low, t_high) = calibration.shots, (calibration.seconds_per_unit_fewest_shots, calibration.seconds_per_unit)
    return float(np.interp(shots, [low, high], [t_low, t_high]))


def qformer_steps(cfg: SweepConfig, spec: SyntheticSpec) -> int:
    """Optimizer steps of every Q-Former the sweep ``cfg`` trains on data shaped like ``spec``."""
    if not qformer_trainings(cfg):
        return 0
    steps = lambda k: cfg.qformer_train.total_steps(qformer_pairs(cfg, spec, k))  # noqa: E731
    per_seed = steps(max(cfg.shots)) if cfg.protocol == "train-split" else sum(steps(k) for k in cfg.shots)
    return per_seed * len(cfg.seeds)


def estimate_seconds(cfg: SweepConfig, calibration: Calibration, spec: SyntheticSpec) -> float:
    """Seconds the full sweep ``cfg`` on data shaped like ``spec`` should take: the one-off costs, every
    unit, and its Q-Formers' optimizer steps. Units already in a run folder or a cached Q-Former make it faster."""
    units = sum(unit_seconds(calibration, k) for k in cfg.shots) * len(cfg.seeds)
    return calibration.seconds_once + units + qformer_steps(cfg, spec) * calibration.seconds_per_qformer_step
