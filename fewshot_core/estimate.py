"""How long a sweep will take here: a short measured calibration on this machine, scaled to the grid.

The calibration runs the real sweep code on synthetic features of the same size (classes, images and
descriptions per class, feature width) for the smallest and the largest shot count of one seed, with a
3-epoch Q-Former, after a warm-up unit at the fewest shots (torch's first-use costs, paid once by a
sweep, are timed there and not scaled by the unit count; they are over-counted by about one unit). The progress events time each unit and its Q-Former
epochs (uncapped, so each gap is a whole epoch of known steps), hence seconds per Q-Former optimizer step
and, per training, what it costs beyond its steps; the rest of a unit is the adapter, linear probe and
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

from .errors import FewShotError
from .progress import CancelFn, never_cancel
from .sweep import SweepConfig, run_sweep
from .synthetic import SyntheticSpec, make_synthetic
from .translations import trained_translations

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
    seconds_per_qformer_once: float = 0.0  # per Q-Former training, beyond its steps (building it, the first epoch's extra)


def calibrate(cfg: SweepConfig, spec: SyntheticSpec, should_cancel: CancelFn = never_cancel) -> Calibration:
    """Time units of ``cfg`` on synthetic features shaped by ``spec`` (seconds, on ``cfg.device``).

    Raises:
        FewShotError: ``cfg`` asks for the per-token Q-Former input, which synthetic features lack.
    """
    if cfg.qformer_text_input != "pooled":
        raise FewShotError("The estimate times the pooled Q-Former input only; per-token input (--qformer-input tokens) is not estimated.")
    shots = sorted({min(cfg.shots), max(cfg.shots)})
    # whole epochs: no step cap, so every gap between epoch reports is one full epoch of known steps
    timing = replace(cfg.qformer_train, epochs=CALIBRATION_EPOCHS, max_steps=0)
    probe = replace(cfg, shots=shots, seeds=[0], qformer_train=timing)
    start = time.perf_counter()
    bundle = make_synthetic(spec)
    texts = sorted({0, min((t for t in cfg.text_counts if t > 0), default=0)})
    warm = replace(probe, shots=shots[:1], text_counts=texts, qformer_train=replace(timing, epochs=1))
    _timed_sweep(bundle, warm, should_cancel)
    warm_up = time.perf_counter() - start
    marks, epoch_marks_by_unit = _timed_sweep(bundle, probe, should_cancel)
    units, per_step, once = [], [], []
    for k, begin, end, epoch_marks in zip([0, *shots], marks, marks[1:], epoch_marks_by_unit):  # zero-shot first
        if not epoch_marks:  # no Q-Former trained in this unit
            units.append(end - begin)
            continue
        gaps = np.diff(epoch_marks)  # whole epochs after the first
        per_step += list(gaps / math.ceil(qformer_pairs(probe, spec, k) / timing.batch_size))
        training = epoch_marks[-1] - begin  # the unit's sampling, then the Q-Former built and trained
        once.append(training - len(epoch_marks) * float(np.median(gaps)))  # beyond its epochs: building, the first epoch's extra
        units.append(end - epoch_marks[-1])  # translations, adapters, probes
    return Calibration(
        seconds_per_qformer_step=float(np.median(per_step)) if per_step else 0.0,
        seconds_per_unit=units[-1],
        seconds_once=warm_up + units[0],
        seconds_measured=time.perf_counter() - start,
        seconds_per_unit_fewest_shots=units[1] if len(shots) == 2 else None,
        shots=(shots[0], shots[-1]),
        seconds_per_qformer_once=float(np.median(once)) if once else 0.0,
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
    """(image, description) pairs in one Q-Former epoch at ``shots``: max(images the protocol allows,
    descriptions), per class. Validation takes ``val_per_class`` images, at most a third of a class
    (``sampling.validation_indices``), and the support set is drawn from the rest."""
    n = spec.train_per_class
    rest = n - min(cfg.val_per_class, n // 3)
    per_class = rest if cfg.protocol == "train-split" else min(shots, rest)
    return spec.num_classes * max(per_class, spec.descriptions_per_class)


def qformer_trainings(cfg: SweepConfig) -> int:
    """How many models the sweep ``cfg`` trains, per translation that trains (``Translation.needs_training``: the
    Q-Former; another one is timed as a Q-Former): one per seed under train-split (reused across its shot counts),
    one per (shots, seed) unit under support; none without the adapter, such a translation or texts."""
    return len(trained_translations(cfg)) * len(cfg.seeds) * (1 if cfg.protocol == "train-split" else len(cfg.shots))


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
    return per_seed * len(cfg.seeds) * len(trained_translations(cfg))


def estimate_seconds(cfg: SweepConfig, calibration: Calibration, spec: SyntheticSpec) -> float:
    """Seconds the full sweep ``cfg`` on data shaped like ``spec`` should take: the one-off costs, every
    unit, and its Q-Formers' optimizer steps. Units already in a run folder or a cached Q-Former make it faster."""
    units = sum(unit_seconds(calibration, k) for k in cfg.shots) * len(cfg.seeds)
    qformers = qformer_trainings(cfg) * calibration.seconds_per_qformer_once + qformer_steps(cfg, spec) * calibration.seconds_per_qformer_step
    return calibration.seconds_once + units + qformers
