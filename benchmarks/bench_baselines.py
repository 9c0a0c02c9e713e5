"""The validation-tuned baselines: seconds per unit, test accuracy, and how often the edge rule fired.

On both CUB-sized synthetic feature sets (``rotation`` and ``shift``, see ``_common.synthetic_modes``),
for each (shots, seed) unit (shots 1 and 15, seeds 0..2 by default, 4 validation images per class as the
sweep draws them), fits every baseline of ``fewshot_core.baselines`` with the class-name prompts as its
text classifier, beside two references from the same run:

- ``tip_adapter_today``: Tip-Adapter with the grids the sweep used before (alpha 0.5-4, beta 1-8), no edge rule;
- ``linear_probe_today``: the linear probe on C in (1, 10, 100), no edge rule.

Per baseline it reports the median seconds per unit (robust to another process's burst; the same as the
mean on an idle machine) and the mean test accuracy (%) per mode and shot count,
and per tuned value how often its first choice sat on an extendable grid edge (``edge_before``) and how
often it still did after the extensions (``edge_after``). It also times the whole set of new baselines
over the default sweep's shot counts for one seed, beside the two references (``seconds_per_seed_all_shots``:
times the default seeds, the baselines' share of the sweep; the opt-in Tip-Adapter-F is left out of it, and its
seconds per unit and accuracy beside Tip-Adapter's are in ``baselines``, to decide whether it is cheap).

Run it alone (``uptime``: a load above ~1 means other processes shared the cores; the JSON line carries
the 1-minute load at the start and at the end). Usage: python benchmarks/bench_baselines.py [--seeds N]
Prints one line per (mode, shots, seed, baseline) and, as its last line, JSON.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from typing import Any

import numpy as np

from _common import emit, machine, synthetic_modes
from fewshot_core.baselines import accuracy, gda, linear_probe, lp_plus_plus, tip_adapter, tip_adapter_f, zero_shot_predict
from fewshot_core.datasets.sampling import sample_few_shot
from fewshot_core.sweep import SweepConfig
from fewshot_core.synthetic import make_synthetic

TODAY_TIP_ALPHAS, TODAY_TIP_BETAS = (0.5, 1.0, 2.0, 4.0), (1.0, 3.0, 5.5, 8.0)
OPT_IN = ("tip_adapter_f",)  # not in the default sweep (config.OPT_IN_METHODS)


def baselines() -> dict[str, Any]:
    """name -> fit(support_x, support_y, text, val_x, val_y, test_x); the references end in ``_today``."""
    return {
        "linear_probe": lambda sx, sy, t, vx, vy, tx: linear_probe(sx, sy, vx, vy, tx),
        "tip_adapter": tip_adapter,
        "tip_adapter_f": tip_adapter_f,
        "gda": gda,
        "lp++": lp_plus_plus,
        "linear_probe_today": lambda sx, sy, t, vx, vy, tx: linear_probe(sx, sy, vx, vy, tx, max_extensions=0),
        "tip_adapter_today": lambda *a: tip_adapter(*a, alphas=TODAY_TIP_ALPHAS, betas=TODAY_TIP_BETAS, max_extensions=0),
    }


def unit_data(bundle, shots: int, seed: int, val_per_class: int):
    """(support_x, support_y, text, val_x, val_y, test_x) of one unit, drawn as the sweep draws it."""
    split = sample_few_shot(bundle.train_labels, shots, seed, val_per_class)
    x, y = bundle.train_features, bundle.train_labels
    return x[split.support], y[split.support], bundle.class_text_features, x[split.val], y[split.val], bundle.test_features


def run_units(args) -> tuple[dict, dict]:
    """Fit every baseline on every (mode, shots, seed): seconds, test accuracies and edge records."""
    seconds: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    records: dict[str, list[dict]] = defaultdict(list)
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    zero_shot = {}
    for mode, spec in synthetic_modes().items():
        bundle = make_synthetic(spec)
        zero_shot[mode] = round(accuracy(zero_shot_predict(bundle.test_features, bundle.class_text_features), bundle.test_labels) * 100, 2)
        for shots in args.shots:
            for seed in range(args.seeds):
                data = unit_data(bundle, shots, seed, args.val_per_class)
                for name, fit in baselines().items():
                    start = time.perf_counter()
                    result = fit(*data)
                    seconds[name][shots].append(time.perf_counter() - start)
                    test = accuracy(result.test_pred, bundle.test_labels)
                    acc[name][f"{mode}/{shots}-shot"].append(test)
                    records[name].append(result.chosen)
                    print(
                        f"{mode} {shots:2d}-shot seed {seed} {name:20s} {seconds[name][shots][-1]:6.2f} s  test {test * 100:5.1f}  {result.chosen}",
                        flush=True,
                    )
    per_baseline = {
        name: {
            **{f"seconds_{k}shot": round(float(np.median(v)), 3) for k, v in seconds[name].items()},
            "test_acc": {cell: round(float(np.mean(v)) * 100, 2) for cell, v in acc[name].items()},
            **edge_counts(records[name]),
        }
        for name in baselines()
    }
    return per_baseline, zero_shot


def edge_counts(chosen: list[dict]) -> dict[str, Any]:
    """Per tuned value: units whose first choice sat on an extendable edge, and whose final choice still does."""
    units = len(chosen)
    names = sorted({n for c in chosen for n in c.get("edges_before", []) + c.get("edges_after", [])})
    return {
        "units": units,
        "edge_before": {n: sum(n in c["edges_before"] for c in chosen) for n in names},
        "edge_after": {n: sum(n in c["edges_after"] for c in chosen) for n in names},
        "mean_extensions": round(float(np.mean([c["grid_extensions"] for c in chosen])), 2) if units else 0.0,
    }


def warm_up() -> None:
    """Fit every baseline once, untimed: the first call pays for imports and allocator warm-up."""
    bundle = make_synthetic(synthetic_modes()["rotation"])
    data = unit_data(bundle, 1, 0, 4)
    for fit in baselines().values():
        fit(*data)


def time_all_shots(seed: int = 0) -> dict[str, Any]:
    """Seconds over the default sweep's shot counts, one seed (rotation mode): all new baselines together,
    and the two references together (what the sweep ran before)."""
    bundle = make_synthetic(synthetic_modes()["rotation"])
    cfg = SweepConfig()
    out: dict[str, dict[str, float]] = {"new": {}, "today": {}}
    for shots in cfg.shots:
        data = unit_data(bundle, shots, seed, cfg.val_per_class)
        for group in out:
            start = time.perf_counter()
            for name, fit in baselines().items():
                if name.endswith("_today") == (group == "today") and name not in OPT_IN:
                    fit(*data)
            out[group][str(shots)] = round(time.perf_counter() - start, 2)
    return {group: {"shots": v, "total": round(sum(v.values()), 2)} for group, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 15])
    parser.add_argument("--val-per-class", type=int, default=SweepConfig().val_per_class)
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    if load_start > 1.0:
        print(f"warning: load average {load_start:.2f} at the start: other processes share the cores, times are inflated", flush=True)
    start = time.perf_counter()
    warm_up()
    per_baseline, zero_shot = run_units(args)
    all_shots = time_all_shots()
    emit(
        {
            "benchmark": "baselines",
            "features": "synthetic CUB-sized (rotation and shift modes): 200 classes, 5994 train, 5794 test, 512-d",
            "seeds": args.seeds,
            "shots": args.shots,
            "val_per_class": args.val_per_class,
            "zero_shot": zero_shot,
            "baselines": per_baseline,
            "seconds_per_seed_all_shots": all_shots,
            "seconds": round(time.perf_counter() - start, 1),
            "load_average_start": load_start,
            "load_average_end": os.getloadavg()[0],
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
