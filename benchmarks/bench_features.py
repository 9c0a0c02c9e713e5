"""Image feature extraction: a plain fp32 loop vs the project's path, on the same images, in one run.

Usage: python benchmarks/bench_features.py [--images 256] [--device cpu]
Prints as its last line JSON with reference_img_per_s, project_img_per_s, speedup, min_cosine_vs_fp32.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from _common import emit, machine
from fewshot_core.backbone import BackboneConfig, load_backbone
from fewshot_core.features import encode_images


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    backbone = load_backbone(BackboneConfig("ViT-B-32", "", device=args.device))
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)
        reference(backbone.model, backbone.preprocess, paths[:8], batch=8)  # warm-up
        start = time.perf_counter()
        ref = reference(backbone.model, backbone.preprocess, paths)
        ref_s = time.perf_counter() - start
        encode_images(backbone, paths[:8])  # warm-up
        start = time.perf_counter()
        ours, _, precision = encode_images(backbone, paths)
        ours_s = time.perf_counter() - start
    cos = (ref * ours).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(ours, axis=1))
    emit(
        {
            "benchmark": "features",
            "model": "ViT-B-32 (random init)",
            "images": args.images,
            "reference_img_per_s": round(args.images / ref_s, 2),
            "project_img_per_s": round(args.images / ours_s, 2),
            "speedup": round(ref_s / ours_s, 3),
            "min_cosine_vs_fp32": round(float(cos.min()), 6),
            "project_precision": precision,
            "target": "speedup >= 3 with min cosine >= 0.999 (needs a CPU with native bf16 or a GPU)",
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
