"""A million description lines: peak memory and progress from the JSON file to cached text features.

Each side runs in a fresh process (peak RSS is per process) on the same stored description set:

- ``project``: import the JSON file into a description set, load the set back, encode every line into cached
  text features with ``features.text_features`` (entries of ``TEXT_CHUNK`` texts gathered into one array);
- ``reference``: load the same set and encode every line as one cache entry (``features._cached_texts`` on the
  whole list, the v1 way: the encoder's array plus the entry written from it).

The CLIP is a stand-in with CLIP's 512-d joint space and a 1-layer, 64-wide text tower, so the feature arrays
are as large as ViT-B/32's (a million lines: 2.05 GB) while encoding stays minutes on 2 cores.

Usage: python benchmarks/bench_many_descriptions.py [--lines 1000000]
Prints as its last line JSON with each side's peak RSS (GB), seconds and progress reports, and the feature array's size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, machine

CLASSES = 200
MODEL = {
    "embed_dim": 512,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def write_inputs(folder: Path, lines: int) -> tuple[Path, Path]:
    """A folder dataset of ``CLASSES`` classes (two tiny images each) and a description file of ``lines`` lines."""
    import numpy as np
    from PIL import Image

    root = folder / "images"
    for c in range(CLASSES):
        (root / f"species {c:03d}").mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((8, 8, 3), (c + i) % 256, np.uint8)).save(root / f"species {c:03d}" / f"{i}.png")
    per_class = lines // CLASSES
    mapping = {f"species {c:03d}": [f"a bird with mark {i} on its wing" for i in range(per_class)] for c in range(CLASSES)}
    path = folder / "descriptions.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    (folder / "model").mkdir()
    (folder / "model" / "fewshot-bench512.json").write_text(json.dumps(MODEL), encoding="utf-8")
    return root, path


def child(side: str, folder: Path) -> dict:
    """One side, in this (fresh) process: seconds, progress reports and peak RSS."""
    import open_clip

    from fewshot_core.backbone import BackboneConfig, load_backbone
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.json_io import descriptions_for_classes, import_description_file, load_descriptions
    from fewshot_core.features import FeatureCache, _cached_texts, text_features

    open_clip.add_model_config(folder / "model")
    backbone = load_backbone(BackboneConfig(model="fewshot-bench512", pretrained="", device="cpu", precision="fp32"))
    dataset = load_dataset("folder", folder / "images")
    cache = folder / f"cache-{side}"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # GB (ru_maxrss is in KB on Linux)
    reports = []
    start = time.perf_counter()
    store = import_description_file(dataset, folder / "descriptions.json", cache)["store"]
    texts, _, _ = descriptions_for_classes(load_descriptions(store, dataset.display_names), dataset.class_names, dataset.display_names)
    progress = lambda done, total, message: reports.append(done)  # noqa: E731
    if side == "project":
        pooled = text_features(FeatureCache(cache), backbone, texts, on_progress=progress)["pooled"]
    else:
        pooled = _cached_texts(FeatureCache(cache), backbone, texts, False, progress)["pooled"]
    return {
        "lines": len(texts),
        "seconds": round(time.perf_counter() - start, 1),
        "progress_reports": len(reports),
        "first_report_at": reports[0] if reports else None,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "rss_before_gb": round(before, 2),
        "array_gb": round(pooled.nbytes / 2**30, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--child", choices=["project", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
        return
    result = {"benchmark": "many_descriptions", "machine": machine(), "lines": args.lines}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_inputs(folder, args.lines)
        result["file_mb"] = round((folder / "descriptions.json").stat().st_size / 2**20, 1)
        for side in ("project", "reference"):
            out = subprocess.run([sys.executable, __file__, "--child", side, "--folder", tmp], capture_output=True, text=True, check=True)
            result[side] = json.loads(out.stdout.strip().splitlines()[-1])
            print(side, result[side], flush=True)
    result["peak_saved_gb"] = round(result["reference"]["peak_rss_gb"] - result["project"]["peak_rss_gb"], 2)
    emit(result)


if __name__ == "__main__":
    main()
