"""Sweep commands: estimate (one unit timed here) and reproduce (features -> Q-Former -> sweep -> Table 1)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..jobspec import SPEC_FILE, EstimateSpec, ReproduceSpec, save_spec
from ..progress import ProgressFn, report
from .io import emit, print_json, tqdm_progress
from .resources import cache_root, check_executor, executor_args


def cmd_estimate(spec: EstimateSpec) -> None:
    """Time one unit of the sweep on synthetic features of the data's size, here, and scale it to the grid."""
    from ..backbone import resolve_device
    from ..estimate import calibrate, estimate_seconds, qformer_steps, qformer_trainings
    from ..synthetic import SyntheticSpec

    cfg = spec.sweep
    size = {"num_classes": spec.classes, "train_per_class": spec.images_per_class, "descriptions_per_class": spec.texts_per_class}
    synthetic = SyntheticSpec(**size, test_per_class=spec.images_per_class)
    calibration = calibrate(cfg, synthetic)
    result = {
        "seconds": round(estimate_seconds(cfg, calibration, synthetic), 1),
        "units": len(cfg.shots) * len(cfg.seeds),
        "qformer_trainings": qformer_trainings(cfg),
        "qformer_steps": qformer_steps(cfg, synthetic),
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(calibration).items()},
        "data": size,
        "device": str(resolve_device(cfg.device)),
    }
    emit("result", **result)
    print_json(result)


def cmd_reproduce(spec: ReproduceSpec) -> None:
    from ..assemble import build_bundle, default_run_dir
    from ..demo.class_groups import demo_held_out, format_group_accuracy, group_accuracy
    from ..report import TRANSLATIONS, format_table1, summary_json, table1, text_helped
    from ..run_catalog import track_run  # the run folder records finished / failed / cancelled (Results marks it)
    from ..runs import RunFolder
    from ..summary import pruned_with
    from ..sweep import run_sweep

    cfg, cache = spec.sweep, cache_root(spec)
    check_executor(spec)
    if spec.run_dir:  # refused before any encoding: a file, a path under one, or a user's folder
        from ..storage import check_path_kind

        RunFolder(check_path_kind(spec.run_dir, "--run-dir", folder=True)).check_usable()
    d = spec.dataset
    with_tokens = cfg.qformer_text_input == "tokens"
    bundle = build_bundle(
        d.name,
        d.root,
        spec.backbone,
        spec.descriptions,
        cache,
        with_tokens,
        tqdm_progress("features"),
        split_file=d.split_file,
        **executor_args(spec),
    )
    run_dir = Path(spec.run_dir) if spec.run_dir else default_run_dir(cache, bundle, cfg)
    emit("run_dir", path=str(run_dir), units=len(cfg.shots) * len(cfg.seeds) + 1)
    progress = keep_spec(run_dir, replace(spec, run_dir=str(run_dir)), tqdm_progress("sweep"))
    results = track_run(run_dir, run_sweep)(bundle, cfg, run_dir, qformer_cache=cache, on_progress=progress, **executor_args(spec))
    table, config = table1(results), RunFolder(run_dir).config()
    print(f"Table 1 · {bundle.dataset} · {bundle.provenance.get('model', 'synthetic')} · protocol {cfg.protocol} · seeds {cfg.seeds}")
    print(format_table1(table, config.get("qformer_images_per_class"), config.get("sweep", {}).get("val_per_class"), pruned_with(config)))
    for translation in TRANSLATIONS:
        helped = text_helped(table, translation=translation)
        if helped:
            print(f"text helped ({translation}: paired gain over image only > 0, Holm-adjusted p < 0.05) at shots 1-4: {helped}")
    held_out = demo_held_out(config, bundle.class_names)
    if held_out is not None:  # the demo: the classes its CLIP saw behave differently from the held-out ones
        print(format_group_accuracy(group_accuracy(run_dir, results, held_out)))
    print(f"run folder: {run_dir}")
    summary = summary_json(results, config, bundle.num_classes)
    if spec.stability_seed is not None:
        summary["stability"] = _stability_check(spec, bundle, run_dir, summary)
    emit("result", run_dir=str(run_dir), rows=len(results))
    if spec.json_summary:
        print(json.dumps(summary))  # the last line, for scripts


def keep_spec(run_dir: Path, spec: ReproduceSpec, inner: ProgressFn) -> ProgressFn:
    """``inner``, writing ``spec.json`` into the run folder at the sweep's first report: the folder is then this
    run's (config.json written), so a spec is never left in a folder the sweep refused. Its paths are made
    absolute and its run folder named, so ``reproduce --config <run>/spec.json`` resumes the run from anywhere."""
    written: list[bool] = []

    def update(done: int, total: int, message: str, step: str = "", metrics: dict[str, float] | None = None) -> None:
        if not written:
            written.append(True)
            save_spec(absolute_paths(spec), run_dir / SPEC_FILE)
        report(inner, done, total, message, step, metrics)

    return update


def absolute_paths(spec: ReproduceSpec) -> ReproduceSpec:
    """The spec with its dataset, split file, descriptions, cache and run folder as absolute paths."""
    absolute = lambda p: None if p is None else os.path.abspath(os.path.expanduser(p))  # noqa: E731 - a one-line helper
    d = spec.dataset
    dataset = replace(d, root=absolute(d.root), split_file=absolute(d.split_file))
    return replace(spec, dataset=dataset, descriptions=absolute(spec.descriptions), cache=absolute(spec.cache), run_dir=absolute(spec.run_dir))


def _stability_check(spec: ReproduceSpec, bundle, run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The same sweep again with another adapter batch-sampling seed (``--stability-seed``): do the marks (Holm
    stars and daggers) of every cell stay? Its run folder sits beside the first (resumable like any run), with
    its own spec."""
    from ..assemble import default_run_dir
    from ..run_catalog import track_run
    from ..runs import RunFolder
    from ..summary import compare_verdicts, summary_json
    from ..sweep import run_sweep

    cfg, seed, cache = spec.sweep, spec.stability_seed, cache_root(spec)
    other = replace(cfg, adapter=replace(cfg.adapter, seed=seed))
    other_dir = Path(f"{run_dir}-batch-seed-{seed}") if spec.run_dir else default_run_dir(cache, bundle, other)
    other_spec = replace(spec, sweep=other, run_dir=str(other_dir), stability_seed=None)
    progress = keep_spec(other_dir, other_spec, tqdm_progress("stability"))
    results = track_run(other_dir, run_sweep)(bundle, other, other_dir, qformer_cache=cache, on_progress=progress, **executor_args(spec))
    check = compare_verdicts(summary, summary_json(results, RunFolder(other_dir).config(), bundle.num_classes))
    cells = ", ".join(
        f"{c['translation']} vs {c['versus']} at {c['shots']} shots: {c['a'] or 'no mark'} -> {c['b'] or 'no mark'}" for c in check["changed"]
    )
    print(f"stability (adapter batch seed {cfg.adapter.seed} vs {seed}): " + ("stable" if check["stable"] else f"NOT stable ({cells})"))
    return {"adapter_seeds": [cfg.adapter.seed, seed], "run_dir": str(other_dir), **check}
