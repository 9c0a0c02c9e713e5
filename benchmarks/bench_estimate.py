"""The Train page's time estimate against the sweep it estimates, both protocols, in one run.

For each protocol, each in a fresh process as in the app: ``python -m fewshot_core estimate`` (what
*Estimate the time* runs: one unit at the fewest and one at the most shots timed on synthetic features of
the data's size, scaled to the grid), then the sweep itself on CUB-sized synthetic features from an
empty Q-Former cache, timed around ``run_sweep`` (the reference; building features is not estimated).

Usage: python benchmarks/bench_estimate.py [--shots 1 2 4 10] [--seeds 2]
Prints as its last line JSON with, per protocol, estimated_s, actual_s and ratio (estimated / actual).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, machine, synthetic_modes

ROOT = Path(__file__).resolve().parents[1]


def sweep_seconds(protocol: str, shots: list[int], seeds: int) -> float:
    """Seconds of ``run_sweep`` for the grid, in this (fresh) process."""
    from fewshot_core.sweep import SweepConfig, run_sweep
    from fewshot_core.synthetic import make_synthetic

    bundle = make_synthetic(synthetic_modes()["rotation"])
    cfg = SweepConfig(shots=shots, seeds=list(range(seeds)), protocol=protocol, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_sweep(bundle, cfg, Path(tmp) / "run", qformer_cache=Path(tmp) / "q")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 2, 4, 10])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--sweep-only", default=None, help=argparse.SUPPRESS)  # the child process: time one sweep
    args = parser.parse_args()
    if args.sweep_only:
        print(json.dumps({"seconds": sweep_seconds(args.sweep_only, args.shots, args.seeds)}))
        return
    spec = synthetic_modes()["rotation"]
    grid = ["--shots", *map(str, args.shots), "--seeds", str(args.seeds)]
    out = {}
    for protocol in ("support", "train-split"):
        size = [
            "--classes",
            str(spec.num_classes),
            "--images-per-class",
            str(spec.train_per_class),
            "--texts-per-class",
            str(spec.descriptions_per_class),
        ]
        command = [sys.executable, "-m", "fewshot_core", "estimate", *grid, "--protocol", protocol, "--device", "cpu", *size]
        estimate = json.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        child = [sys.executable, __file__, "--sweep-only", protocol, *grid]
        actual = json.loads(subprocess.run(child, cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()[-1])["seconds"]
        out[protocol] = {
            "estimated_s": estimate["seconds"],
            "actual_s": round(actual, 1),
            "ratio": round(estimate["seconds"] / actual, 3),
            "calibration_s": estimate["seconds_measured"],
            "qformer_trainings": estimate["qformer_trainings"],
        }
        print(f"{protocol}: estimated {estimate['seconds']:.1f} s, took {actual:.1f} s", flush=True)
    emit(
        {
            "benchmark": "estimate",
            "data": f"synthetic, {spec.num_classes} classes x {spec.train_per_class} images, {spec.descriptions_per_class} texts per class",
            "grid": {"shots": args.shots, "seeds": args.seeds, "texts": "default"},
            **out,
            "target": "ratio within 0.67-1.5 (the app says 'about')",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
