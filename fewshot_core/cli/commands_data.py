"""Commands on datasets and the feature cache: download, verify-dataset, features, import-descriptions."""

from __future__ import annotations

import time
from typing import Any

from ..jobspec import DownloadSpec, FeaturesSpec, ImportSpec, VerifySpec
from .io import emit, print_json, tqdm_progress
from .resources import cache_root, check_executor, executor_args


def cmd_download(spec: DownloadSpec) -> None:
    from ..datasets.download import download_dataset

    target = download_dataset(spec.dataset.name, spec.dataset.root, on_progress=tqdm_progress())
    emit("result", root=str(target))
    print_json({"dataset": spec.dataset.name, "root": str(target)})


def cmd_verify_dataset(spec: VerifySpec) -> int:
    from ..datasets.verify import verify_dataset

    d = spec.dataset
    print_json(verify_dataset(d.name, d.root, not spec.quick, tqdm_progress("checking images"), d.split_file))
    return 0


def cmd_features(spec: FeaturesSpec) -> None:
    check_executor(spec)  # a bad executor answers at once, before torch is imported
    from ..backbone import load_backbone
    from ..datasets import load_dataset
    from ..features import FeatureCache, image_features

    if spec.export:
        from ..export import check_export_dir
        from ..storage import check_path_kind

        check_export_dir(check_path_kind(spec.export, "--export", folder=True))  # before encoding: a path under a file fails now
    dataset = load_dataset(spec.dataset.name, spec.dataset.root, spec.dataset.split_file)
    cfg = spec.backbone
    backbone = load_backbone(cfg)
    cache = FeatureCache(cache_root(spec))
    summary: dict[str, Any] = {"dataset": spec.dataset.name, "model": cfg.model, "pretrained": cfg.pretrained, "device": str(backbone.device)}
    computed = {}
    for split in spec.splits or list(dataset.splits):
        start = time.perf_counter()
        feats = computed[split] = image_features(
            cache, backbone, dataset, split, spec.batch_size, spec.workers, tqdm_progress(split), **executor_args(spec)
        )
        summary[split] = {
            "images": len(feats.labels),
            "unreadable": len(feats.unreadable),
            "precision": feats.precision,
            "cache_hit": feats.cache_hit,
            "seconds": round(time.perf_counter() - start, 2),
        }
    summary["cache"] = str(cache.root)
    if spec.export:
        from ..export import export_features

        export_features(spec.export, dataset, backbone, computed)
        summary["exported"] = str(spec.export)
    emit("result", **summary)
    print_json(summary)


def cmd_import_descriptions(spec: ImportSpec) -> None:
    from ..datasets import load_dataset
    from ..descriptions.json_io import import_description_file

    dataset = load_dataset(spec.dataset.name, spec.dataset.root, spec.dataset.split_file)
    print_json(import_description_file(dataset, spec.file, cache_root(spec)))
