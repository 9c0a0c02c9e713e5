"""The same sweep with the local executor and with Ray (a local instance, 2 workers), in one run.

Runs the default ``support``-protocol sweep (7 shots x 9 text counts x 5 seeds x every translation and
baseline, a Q-Former per (shots, seed)) on CUB-sized synthetic features on the CPU, first in this
process, then as Ray tasks on ``ray.init(num_cpus=2)``, each from an empty Q-Former cache, and checks
that both run folders hold the same rows and the same stored test predictions.

Usage: python benchmarks/bench_scale.py [--seeds N] [--shots K ...] [--workers 2]
Prints as its last line JSON with seconds_local, seconds_ray and identical_results (must be true).
On one 2-core machine Ray cannot be much faster than the local executor: the local one already uses
both cores (torch threads), each Ray worker one; the figure shows what distribution costs, and more
machines (a cluster address) divide the time by their workers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import emit, machine, synthetic_modes
from fewshot_core.executors import RayExecutor
from fewshot_core.ray_cluster import init_ray
from fewshot_core.runs import RunFolder
from fewshot_core.sweep import SweepConfig, run_sweep
from fewshot_core.synthetic import make_synthetic


def differing_units(a: Path, b: Path) -> list[str]:
    """Units whose rows or stored test predictions differ between two run folders (empty: identical)."""
    differ = []
    for unit in sorted(p.stem for p in (a / "units").glob("*.json")):
        ra, rb = (json.loads((f / "units" / f"{unit}.json").read_text())["rows"] for f in (a, b))
        pa, pb = RunFolder(a).predictions(unit), RunFolder(b).predictions(unit)
        if ra != rb or pa.keys() != pb.keys() or not all(np.array_equal(pa[k], pb[k]) for k in pa):
            differ.append(unit + ": " + ", ".join(k for k in pa if k in pb and not np.array_equal(pa[k], pb[k])))
    return differ


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=len(SweepConfig().seeds), help="a smaller sweep for a smoke run (default: the default)")
    parser.add_argument("--shots", type=int, nargs="+", default=SweepConfig().shots)
    parser.add_argument("--keep", type=Path, default=None, help="copy both run folders here")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance (one unit per CPU)")
    args = parser.parse_args()
    bundle = make_synthetic(synthetic_modes()["rotation"])
    cfg = SweepConfig(protocol="support", device="cpu", seeds=list(range(args.seeds)), shots=args.shots)
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        run_sweep(bundle, cfg, root / "local", qformer_cache=root / "q-local")
        seconds["local"] = time.perf_counter() - start
        print(f"local: {seconds['local']:.1f} s", flush=True)
        start = time.perf_counter()
        ray = init_ray(num_cpus=args.workers)
        seconds["ray_start"] = time.perf_counter() - start
        run_sweep(bundle, cfg, root / "ray", qformer_cache=root / "q-ray", executor=RayExecutor())
        seconds["ray"] = time.perf_counter() - start
        print(f"ray: {seconds['ray']:.1f} s (of which {seconds['ray_start']:.1f} s starting Ray)", flush=True)
        differ = differing_units(root / "local", root / "ray")
        identical = not differ and RunFolder(root / "local").results().equals(RunFolder(root / "ray").results())
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        units = len(list((root / "ray" / "units").glob("*.json")))
        ray.shutdown()
    emit(
        {
            "benchmark": "scale",
            "sweep": f"support protocol, {len(cfg.shots)} shots x {len(cfg.text_counts)} text counts x {len(cfg.seeds)} seeds, every translation and baseline",
            "features": "synthetic CUB-sized (rotation mode): 200 classes, 5994 train, 5794 test, 512-d, 30 descriptions/class",
            "units": units,
            "ray_workers": args.workers,
            "seconds_local": round(seconds["local"], 1),
            "seconds_ray": round(seconds["ray"], 1),
            "seconds_ray_start": round(seconds["ray_start"], 1),
            "identical_results": identical,
            "differing_units": differ,
            "target": "identical_results true",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
