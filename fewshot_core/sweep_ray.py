"""The Ray executor of ``run_sweep``: sweep units, and the Q-Formers they need, as Ray tasks.

The driver keeps the run folder: it puts the feature bundle in Ray's object store once, submits one
task per unfinished (shots, seed) unit (under ``train-split`` first one task per seed training every
translation that trains, the Q-Former, whose translations the seed's units receive), and stores each
unit's rows and predictions as it arrives, exactly as the local executor does, so resume, the results and the numbers are the same. Every task
is seeded from (shots, seed) alone, so where it runs does not change what it computes.

A task whose worker dies (a killed process, a lost node) is retried by Ray (``max_retries``); a
cancelled sweep cancels its pending tasks. Units use a GPU each where the cluster has GPUs and the
sweep's device allows one (``auto`` or ``cuda``), otherwise one CPU each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import FeatureBundle
from .config import SweepConfig
from .errors import FewShotError
from .layout import CacheLayout
from .progress import CancelFn, Cancelled
from .ray_cluster import gpu_plan, init_ray
from .translations import trained_translations

MAX_RETRIES = 3  # re-runs of a task whose worker died before it finished
POLL_SECONDS = 0.5  # how often the driver checks for cancellation while tasks run


def _translator(bundle: FeatureBundle, cfg: SweepConfig, val_idx: np.ndarray, qformer_cache: str | None):
    from .backbone import resolve_device
    from .translator import Translator

    device = resolve_device(cfg.device)
    cache = qformer_cache if qformer_cache and CacheLayout.of(qformer_cache).qformers.is_dir() else None  # a path the worker's machine lacks
    return Translator(bundle, cfg, device, cache, val_idx), device


def _seed_training_task(bundle: FeatureBundle, cfg: SweepConfig, seed: int, val_idx: np.ndarray, qformer_cache: str | None) -> dict[str, np.ndarray]:
    """``train-split``: the seed's models of every translation that trains (the Q-Former), trained (or loaded
    from the cache), as name -> (M, D) translations."""
    translator, _ = _translator(bundle, cfg, val_idx, qformer_cache)
    return {name: translator.seed_translations(seed, name) for name in trained_translations(cfg)}


def _unit_task(
    bundle: FeatureBundle, cfg: SweepConfig, shots: int, seed: int, val_idx: np.ndarray, qformer_cache: str | None, seed_translations: Any
):
    """One (shots, seed) unit, as ``compute_unit`` computes it locally."""
    import platform

    import ray

    from .units import compute_unit

    translator, device = _translator(bundle, cfg, val_idx, qformer_cache)
    if seed_translations is not None:
        translator.keep_seed_translations(seed, seed_translations)
    rows, extra, preds = compute_unit(bundle, cfg, shots, seed, translator, device)
    return rows, {**extra, "worker": platform.node(), "device": str(device), "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}, preds


def task_options(ray: Any, device: str) -> dict[str, Any]:
    """Resources of one task: a GPU where the cluster has one and the device allows it, else a CPU."""
    return {"num_cpus": 1, "num_gpus": 1 if gpu_plan(ray, device) else 0, "max_retries": MAX_RETRIES}


def run_units_on_ray(
    bundle: FeatureBundle,
    cfg: SweepConfig,
    units: list[tuple[int, int]],
    val_idx: np.ndarray,
    qformer_cache: CacheLayout | Path | str | None,
    address: str | None,
    save: Callable[[int, int, Any], None],
    should_cancel: CancelFn,
) -> None:
    """Run ``units`` as Ray tasks and ``save(shots, seed, result)`` each one as it finishes."""
    if not units:
        return
    ray = init_ray(address)
    options = task_options(ray, cfg.device)
    task_cfg = cfg if options["num_gpus"] else replace(cfg, device="cpu")
    unit_task = ray.remote(_unit_task).options(**options)
    cache = None
    if qformer_cache:  # made here, so that workers on this machine (or sharing its file system) find it
        layout = CacheLayout.of(qformer_cache)
        layout.qformers.mkdir(parents=True, exist_ok=True)
        cache = str(layout.root.resolve())
    bundle_ref = ray.put(bundle)
    seed_refs: dict[int, Any] = {}
    if cfg.protocol == "train-split" and trained_translations(cfg):
        seed_task = ray.remote(_seed_training_task).options(**options)
        seed_refs = {seed: seed_task.remote(bundle_ref, task_cfg, seed, val_idx, cache) for seed in sorted({s for _, s in units})}
    pending = {unit_task.remote(bundle_ref, task_cfg, shots, seed, val_idx, cache, seed_refs.get(seed)): (shots, seed) for shots, seed in units}
    try:
        while pending:
            if should_cancel():
                raise Cancelled("The sweep was cancelled; the units finished so far are kept.")
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                shots, seed = pending.pop(ref)
                save(shots, seed, _result(ray, ref, shots, seed))
    finally:
        for ref in [*pending, *seed_refs.values()]:
            ray.cancel(ref, force=True)


def _result(ray: Any, ref: Any, shots: int, seed: int) -> Any:
    """A finished task's value; a user-fixable error inside it comes back as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, FewShotError):
            raise e.cause from None
        raise FewShotError(f"The {shots}-shot seed {seed} unit failed on a Ray worker: {e.cause!r}. The units finished so far are kept.") from e
    except ray.exceptions.RayError as e:  # the worker died more than MAX_RETRIES times, or the cluster went away
        raise FewShotError(f"The {shots}-shot seed {seed} unit was lost on the Ray cluster ({type(e).__name__}); run again to resume.") from e
