"""Image feature extraction through Ray Data (``--executor ray``): the same features as ``encode_images``, on a cluster.

The image paths become a dataset with an ``index`` column; Ray tasks decode and preprocess batches of
them (``map_batches`` with a function) and a pool of actors, each holding the CLIP, encodes them
(``map_batches`` with a class): one actor per GPU where the cluster has GPUs, else CPU actors. Batches
come back in whatever order they finish and are put in place by their index; progress is reported and
``should_cancel`` checked as each one arrives. Ray is imported only inside these functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .backbone import Backbone, BackboneConfig
from .errors import FewShotError
from .progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress
from .ray_cluster import gpu_plan

MAX_ACTOR_THREADS = 8  # torch threads of one CPU actor; a bigger node gets several actors
DECODE_WORKER_BYTES = 640 << 20  # a decoding worker with torch and torchvision loaded (Ray Data measured ~520 MiB), before its batch


def _decode(batch: dict[str, np.ndarray], preprocess: Any) -> dict[str, np.ndarray]:
    """Ray task: decode and preprocess a batch of paths; unreadable images become zeros with ``ok`` False."""
    from .encode import ImageFiles

    files = ImageFiles([Path(p) for p in batch["path"]], preprocess)
    images, ok = zip(*(files[i] for i in range(len(files))))
    return {"index": batch["index"], "image": np.stack([t.numpy() for t in images]), "ok": np.array(ok, bool)}


def _decode_bytes(preprocess: Any, batch_size: int) -> int:
    """Memory a decoding task needs: its worker, and twice its batch of preprocessed float32 images (the images, then the array)."""
    from PIL import Image

    return DECODE_WORKER_BYTES + 2 * batch_size * 4 * int(np.prod(preprocess(Image.new("RGB", (8, 8))).shape))


class _Encoder:
    """Ray actor: loads the CLIP once (the same ``BackboneConfig`` as the driver's) and encodes batches."""

    def __init__(self, config: BackboneConfig, identity: dict[str, Any], threads: int | None = None):
        import torch

        from .backbone import load_backbone

        if threads:
            torch.set_num_threads(threads)  # Ray sets OMP_NUM_THREADS to the CPUs an actor reserved, fewer than it may use
        self.backbone = load_backbone(config)
        differ = sorted(k for k in {**identity, **self.backbone.identity} if identity.get(k) != self.backbone.identity.get(k))
        if differ:  # its features would be stored under the driver's cache key
            raise FewShotError(
                f"the CLIP it loaded differs from the driver's in {', '.join(differ)}; "
                "install the same fewshot-lab, open_clip and weights file on every node."
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        from .encode import encode_image_batch

        ok = np.asarray(batch["ok"], bool)
        feats, precision = encode_image_batch(self.backbone, torch.from_numpy(np.ascontiguousarray(batch["image"])), ok)
        return {"index": batch["index"], "features": feats, "ok": ok, "precision": np.full(len(ok), precision)}


def actor_plan(ray: Any, config: BackboneConfig) -> tuple[BackboneConfig, dict[str, Any], int | None]:
    """Where encoding runs: (the actors' backbone config, their map_batches resources, their torch threads).

    GPUs: one actor per GPU (``num_gpus=1``). CPUs only: actors of up to ``MAX_ACTOR_THREADS`` threads,
    as many as the smallest node fits per node; each reserves one CPU fewer than it runs threads, which
    leaves the decoding tasks room (decoding a JPEG costs a few percent of encoding it). On a 2-CPU node
    that is the local path's ``--workers 1``: the decoding task preempts the encoder's threads (~0.87 of
    the model alone, where the local path's default, decoding between batches, reaches ~0.96).
    """
    gpus = gpu_plan(ray, config.device)
    if gpus:
        return replace(config, device="cuda"), {"num_gpus": 1, "num_cpus": 1, "size": gpus}, None
    node_cpus = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU", 0) >= 1]
    if not node_cpus:
        raise FewShotError("The Ray cluster has no CPUs to encode on; check `ray status` on its head node.")
    threads = min(MAX_ACTOR_THREADS, min(node_cpus))
    size = max(1, sum(c // threads for c in node_cpus))
    return replace(config, device="cpu"), {"num_cpus": max(1, threads - 1), "size": size}, threads


def encode_images_ray(
    backbone: Backbone,
    paths: Sequence[Path],
    batch_size: int = 64,
    address: str | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
) -> tuple[np.ndarray, np.ndarray, str]:
    """``encode_images`` through Ray Data on the cluster at ``address`` (None: a local instance).

    The actors load ``backbone.config`` at the precision the driver resolved (``backbone.precision``), so
    the cache key and the features mean the same as on the local path; each actor checks it against fp32
    on its first batch, as ``encode_images`` does.

    Returns:
        features (N, D) float32, valid (N,) bool, and the precision actually used.
    """
    from .ray_cluster import init_ray

    out = np.zeros((len(paths), backbone.embed_dim), np.float32)
    valid = np.zeros(len(paths), bool)
    if not paths:
        return out, valid, backbone.precision
    ray = init_ray(address)
    config, resources, threads = actor_plan(ray, replace(backbone.config, precision=backbone.precision))
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # progress goes to on_progress (the CLI's bar, the app's)
    context.print_on_execution_start = False
    for handler in logging.getLogger("ray.data").handlers:  # its console log would break into the progress bar; ray-data.log keeps it
        if handler.get_name() == "console":
            handler.setLevel(logging.ERROR)
    items = [{"index": i, "path": str(p)} for i, p in enumerate(paths)]
    size = resources.pop("size")
    dataset = (
        ray.data.from_items(items, override_num_blocks=-(-len(paths) // batch_size))  # a decoding task per batch
        .map_batches(
            _decode,
            batch_size=batch_size,
            batch_format="numpy",
            fn_kwargs={"preprocess": backbone.preprocess},
            num_cpus=1,
            # asking for memory also keeps Ray Data from fusing decoding into the encoder actors (it fuses equal requests)
            memory=_decode_bytes(backbone.preprocess, batch_size),
        )
        .map_batches(
            _Encoder,
            batch_size=batch_size,
            batch_format="numpy",
            fn_constructor_kwargs={"config": config, "identity": backbone.identity, "threads": threads},
            compute=ray.data.ActorPoolStrategy(size=size),
            **resources,
        )
    )
    precisions: set[str] = set()
    done = 0
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            check_cancel(should_cancel, "Image encoding")
            index = np.asarray(batch["index"], np.int64)
            out[index] = batch["features"]
            valid[index] = batch["ok"]
            precisions.update(str(p) for p in batch["precision"])
            done += len(index)
            on_progress(done, len(paths), f"encoded {done}/{len(paths)} images")
    except FewShotError:  # Cancelled
        raise
    except Exception as e:  # noqa: BLE001 - Ray's errors carry a worker's FewShotError only as text
        mapped = _worker_error(e)
        if mapped is None:
            raise
        raise mapped from e
    if done != len(paths):
        raise FewShotError(f"Ray returned {done} of {len(paths)} image features; run again (finished splits are kept in the cache).")
    # every actor checks the precision on its own first batch; were they ever to disagree, the entry says so
    return out, valid, precisions.pop() if len(precisions) == 1 else "+".join(sorted(precisions))


def _worker_error(error: Exception) -> FewShotError | None:
    """A FewShotError raised on a Ray worker, as one here (Ray passes on only its traceback's text); None for other errors."""
    prefix = f"{FewShotError.__module__}.{FewShotError.__qualname__}: "
    for line in reversed(str(error).splitlines()):
        if line.strip().startswith(prefix):
            return FewShotError(f"On a Ray worker: {line.strip()[len(prefix) :]}")
    return None
