"""Image feature extraction: a plain fp32 loop, the model alone, and the project's path, on the same images, in one run.

Usage: python benchmarks/bench_features.py [--images 256] [--rounds 3] [--device cpu] [--workers N]

The compute bound is the model alone at the project's precision on preprocessed tensors (already on the
device), the faster of autocast and a cast-weights copy of the image tower; ``efficiency`` is the project's
throughput (JPEG files -> features) over it. The bound and the project path are timed in alternating rounds
and each keeps its best, so a burst of load from another process does not favour either.
The project path is also timed with the other way to decode (0 workers: the main process decodes each batch
before encoding it; 1: a DataLoader worker decodes while the model encodes), so the default is checked on
this machine. Prints as its last line JSON with reference_img_per_s, project_img_per_s, speedup,
compute_bound_img_per_s, efficiency, efficiency_by_decode_workers, min_cosine_vs_fp32.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from _common import emit, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's fewshot_core, not another one installed
from fewshot_core.backbone import BackboneConfig, load_backbone  # noqa: E402
from fewshot_core.datasets.images import load_rgb  # noqa: E402
from fewshot_core.encode import default_workers, encode_images  # noqa: E402


def make_images(folder: Path, n: int, size: int = 224) -> list[Path]:
    """n JPEGs of random coloured shapes on noisy backgrounds."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        img = Image.fromarray(arr)
        draw = ImageDraw.Draw(img)
        x, y, r = rng.integers(40, size - 40, 2).tolist() + [int(rng.integers(10, 40))]
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.integers(0, 255, 3).tolist()))
        paths.append(folder / f"{i:05d}.jpg")
        img.save(paths[-1], quality=90)
    return paths


def reference(model, preprocess, paths: list[Path], batch: int = 64) -> np.ndarray:
    """The plain way: decode in the main process, fp32, batch 64."""
    out, device = [], next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(paths), batch):
            x = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths[start : start + batch]])
            out.append(model.encode_image(x.to(device)).float().cpu().numpy())
    return np.concatenate(out)


def model_alone(backbone, precision: str) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The ways to run the image tower alone at ``precision``, each in its fastest mode: autocast under no_grad
    (inference_mode turns off autocast's cache of cast weights: ~20 instead of ~35 img/s), and a copy with cast
    weights under inference_mode."""
    model = backbone.model
    if precision == "fp32":
        return {"fp32": torch.inference_mode()(model.encode_image)}
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    cast = copy.deepcopy(model.visual).to(dtype)

    def autocast(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.autocast(backbone.device.type, dtype=dtype):
            return model.encode_image(x)

    @torch.inference_mode()
    def cast_weights(x: torch.Tensor) -> torch.Tensor:
        return cast(x.to(dtype))

    return {"autocast": autocast, "cast_weights": cast_weights}


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds ``fn`` takes, the device's queue drained before and after."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timings of the model alone and the project path; best of each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=None, help="the project path's decoding workers (default: default_workers)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    backbone = load_backbone(BackboneConfig("ViT-B-32", "", device=args.device))
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)
        start = time.perf_counter()
        tensors = torch.stack([backbone.preprocess(load_rgb(p)) for p in paths])
        decode_ms = (time.perf_counter() - start) / len(paths) * 1000
        reference(backbone.model, backbone.preprocess, paths[:8], batch=8)  # warm-up
        start = time.perf_counter()
        ref = reference(backbone.model, backbone.preprocess, paths)
        ref_s = time.perf_counter() - start
        _, _, precision = encode_images(backbone, paths[:8])  # warm-up, and the one-off fp32 check of the precision
        ways = model_alone(backbone, precision)
        x = tensors.to(backbone.device)
        workers = default_workers(backbone.device) if args.workers is None else args.workers
        other = 1 if workers == 0 else 0  # the other way to decode, timed beside the chosen one
        alone: dict[str, list[float]] = {name: [] for name in ways}
        project: dict[int, list[float]] = {workers: [], other: []}
        for fn in ways.values():
            fn(x[:8])  # warm-up
        for _ in range(args.rounds):
            for name, fn in ways.items():
                alone[name].append(timed(lambda fn=fn: [fn(x[i : i + 64]) for i in range(0, len(x), 64)], backbone.device))
            for n, times in project.items():
                times.append(timed(lambda n=n: encode_images(backbone, paths, num_workers=args.workers if n == workers else n), backbone.device))
        ours, _, precision = encode_images(backbone, paths, num_workers=args.workers)
    cos = (ref * ours).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(ours, axis=1))
    alone_rate = {name: round(args.images / min(s), 2) for name, s in alone.items()}
    bound, ours_s = max(alone_rate.values()), min(project[workers])
    emit(
        {
            "benchmark": "features",
            "model": "ViT-B-32 (random init)",
            "images": args.images,
            "rounds": args.rounds,
            "reference_img_per_s": round(args.images / ref_s, 2),
            "project_img_per_s": round(args.images / ours_s, 2),
            "speedup": round(ref_s / ours_s, 3),
            "min_cosine_vs_fp32": round(float(cos.min()), 6),
            "project_precision": precision,
            "compute_bound_img_per_s": bound,
            "model_alone_img_per_s": alone_rate,
            "efficiency": round(args.images / ours_s / bound, 3),
            "decode_preprocess_ms_per_img": round(decode_ms, 2),
            "decode_workers": workers,
            "efficiency_by_decode_workers": {str(n): round(args.images / min(t) / bound, 3) for n, t in sorted(project.items())},
            "target": "efficiency >= 0.85 and min cosine >= 0.999; speedup >= 3 (needs a CPU with native bf16 or a GPU)",
            "loadavg_before": [round(v, 2) for v in load_before],
            "loadavg_after": [round(v, 2) for v in os.getloadavg()],
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
