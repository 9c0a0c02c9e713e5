"""Batched CLIP encoding of images and texts: a frozen backbone turned into feature arrays (no cache here; the
verified on-disk cache around it is ``features.py``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .backbone import Backbone
from .datasets.images import load_rgb
from .errors import FewShotError
from .progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress

MIN_COSINE = 0.999  # reduced precision is kept only if it stays this close to fp32
log = logging.getLogger(__name__)


class ImageFiles(torch.utils.data.Dataset):
    """Decodes and preprocesses images in DataLoader workers; unreadable ones become (zeros, False)."""

    def __init__(self, paths: Sequence[Path], preprocess: Any):
        self.paths = list(paths)
        self.preprocess = preprocess
        self.blank = preprocess(Image.new("RGB", (8, 8)))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, bool]:
        if not os.path.isfile(self.paths[i]):  # a FIFO or device named .png would block the read forever: unreadable
            return torch.zeros_like(self.blank), False
        try:
            return self.preprocess(load_rgb(self.paths[i])), True
        except Exception:  # noqa: BLE001 - listed as unreadable, never fatal
            return torch.zeros_like(self.blank), False


def default_workers(device: torch.device) -> int:
    """JPEG decoding workers: on a GPU, all cores but one (at most 16), to keep up with it; on a CPU, none below
    8 cores, else one per 8 cores (at most 4), each taking a core from the encoder's threads (``encode_images``).

    On a CPU the encoder's threads use every core, so a worker next to them overlaps decoding with encoding
    only by preempting one of them, which stalls the others at the next barrier: on 2 cores (bf16 ViT-B/32,
    224 px JPEGs: decoding + preprocessing 1.5 ms of one core per image, encoding ~50 core-ms) one worker
    reached 0.83-0.90 of the model alone, one worker with a core of its own (the encoder on the other) 0.52,
    and decoding in the main process between batches 0.95-0.99. Decoding in the main process leaves all cores
    but one idle meanwhile, so its cost grows with the cores (~3 % per core for these images), while a worker
    with a core of its own costs the encoder 1/cores: from 8 cores on, the worker is the better deal.
    """
    cores = os.cpu_count() or 1
    if device.type != "cpu":
        return max(0, min(16, cores - 1))
    return 0 if cores < 8 else min(4, cores // 8)


def encode_images(
    backbone: Backbone,
    paths: Sequence[Path],
    batch_size: int = 64,
    num_workers: int | None = None,
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Encode images with the frozen CLIP.

    Reduced precision (bf16/fp16) is checked once per backbone, on its first batch, against fp32 and
    dropped for fp32 if any feature falls below cosine ``MIN_COSINE``.

    JPEG decoding runs in ``num_workers`` DataLoader workers, overlapping the encoder; by default
    (``default_workers``) on a CPU the encoder runs meanwhile on the cores those leave it (torch's thread
    count is restored afterwards). With no workers the main process decodes each batch before encoding it.

    Returns:
        features (N, D) float32, valid (N,) bool, and the precision actually used.
    """
    check_loader_settings(batch_size, num_workers)
    workers = default_workers(backbone.device) if num_workers is None else num_workers
    threads = torch.get_num_threads()
    if num_workers is None and backbone.device.type == "cpu" and workers:  # the default workers' cores are not the encoder's
        torch.set_num_threads(max(1, min(threads, (os.cpu_count() or 1) - workers)))
    loader = torch.utils.data.DataLoader(
        ImageFiles(paths, backbone.preprocess),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=backbone.device.type == "cuda",
        persistent_workers=False,
    )
    out = np.zeros((len(paths), backbone.embed_dim), np.float32)
    valid = np.zeros(len(paths), bool)
    precision, done = backbone.precision, 0
    try:
        for images, ok in loader:
            check_cancel(should_cancel, "Image encoding")
            out[done : done + len(images)], precision = encode_image_batch(backbone, images, ok.numpy())
            valid[done : done + len(images)] = ok.numpy()
            done += len(images)
            on_progress(done, len(paths), f"encoded {done}/{len(paths)} images")
    finally:
        torch.set_num_threads(threads)
    return out, valid, precision


def encode_image_batch(backbone: Backbone, images: torch.Tensor, ok: np.ndarray) -> tuple[np.ndarray, str]:
    """Features (B, D) float32 of one preprocessed batch, and the precision used; rows where ``ok`` is False are zeros."""
    with torch.inference_mode():
        images = images.to(backbone.device, non_blocking=True)
        precision = image_precision(backbone, images[:8])
        feats = _encode_batch(backbone, images, precision).float().cpu().numpy()
    feats[~ok] = 0.0  # unreadable images get no feature, only a flag
    return feats, precision


def image_precision(backbone: Backbone, probe: torch.Tensor) -> str:
    """The precision images are encoded at: ``backbone.precision`` once it passed the fp32 check on ``probe``
    (checked on the first call only: the fp32 reference costs as much as encoding ~20 images), else fp32."""
    if backbone.image_precision is None:
        backbone.image_precision = "fp32" if backbone.precision == "fp32" else _checked_precision(backbone, probe)
        if backbone.image_precision == "fp32":
            backbone.drop_low_precision_visual()
    return backbone.image_precision


def _encode_batch(backbone: Backbone, images: torch.Tensor, precision: str) -> torch.Tensor:
    """Image features at ``precision``: fp32, a cast-weights copy of the image tower, or autocast where there is none."""
    if precision == "fp32":
        return backbone.model.encode_image(images)
    visual = backbone.low_precision_visual()
    if visual is not None:
        return visual(images.to(next(visual.parameters()).dtype))
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(backbone.device.type, dtype=dtype):
        return backbone.model.encode_image(images)


def _checked_precision(backbone: Backbone, probe: torch.Tensor) -> str:
    """Keep the reduced precision only if it matches fp32 to ``MIN_COSINE`` on a probe batch."""
    ref = _encode_batch(backbone, probe, "fp32").float()
    low = _encode_batch(backbone, probe, backbone.precision).float()
    worst = F.cosine_similarity(ref, low, dim=-1).min().item()
    if worst < MIN_COSINE:
        log.warning("%s features reached only cosine %.5f to fp32; using fp32", backbone.precision, worst)
        return "fp32"
    return backbone.precision


def encode_texts(backbone: Backbone, texts: Sequence[str], batch_size: int = 256, on_progress: ProgressFn = no_progress) -> np.ndarray:
    """Pooled CLIP text features, (N, D) float32, not normalised (written into one array: no second copy for
    a million texts)."""
    out = np.zeros((len(texts), backbone.embed_dim), np.float32)
    with torch.inference_mode(), backbone.autocast():
        for start in range(0, len(texts), batch_size):
            tokens = backbone.tokenizer(list(texts[start : start + batch_size])).to(backbone.device)
            out[start : start + len(tokens)] = backbone.model.encode_text(tokens).float().cpu().numpy()
            done = min(start + batch_size, len(texts))
            if done == len(texts) or (start // batch_size) % 8 == 0:
                on_progress(done, len(texts), f"texts encoded: {done}/{len(texts)}")
    return out


def encode_text_tokens(backbone: Backbone, texts: Sequence[str], batch_size: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled text features plus per-token hidden states, projected into the joint space.

    Returns:
        pooled (N, D) float32, tokens (N, L, D) float16, mask (N, L) bool (True for real tokens
        up to and including the end-of-text token). L is the longest real length among ``texts``.
    """
    model = backbone.model
    if not all(hasattr(model, a) for a in ("token_embedding", "transformer", "ln_final", "attn_mask")):
        raise FewShotError(f"Per-token text features need a CLIP with open_clip's own text tower; {backbone.config.model} has another.")
    pooled, hidden, masks = [], [], []
    with torch.inference_mode(), backbone.autocast():
        for start in range(0, len(texts), batch_size):
            tokens = backbone.tokenizer(list(texts[start : start + batch_size])).to(backbone.device)
            p, h, m = _text_tower(model, tokens)
            pooled.append(p.float().cpu().numpy())
            hidden.append(h.half().cpu().numpy())
            masks.append(m.cpu().numpy())
    length = max((m.sum(1).max() for m in masks), default=1)
    pad = lambda a: np.pad(a[:, :length], [(0, 0), (0, length - a[:, :length].shape[1])] + [(0, 0)] * (a.ndim - 2))  # noqa: E731
    return np.concatenate(pooled), np.concatenate([pad(h) for h in hidden]), np.concatenate([pad(m) for m in masks])


def _text_tower(model: torch.nn.Module, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """open_clip's ``encode_text`` with the per-token states kept: pooled (B,D), tokens (B,T,D), mask (B,T)."""
    from open_clip.transformer import text_global_pool

    x = model.token_embedding(tokens).to(model.transformer.get_cast_dtype())
    x = model.ln_final(model.transformer(x + model.positional_embedding, attn_mask=model.attn_mask))  # (B, T, W)
    pooled = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    proj = model.text_projection
    project = (lambda t: proj(t)) if isinstance(proj, torch.nn.Linear) else (lambda t: t @ proj)  # noqa: E731
    eot = tokens.argmax(dim=-1)  # the end-of-text token has the largest id in CLIP's vocabulary
    mask = torch.arange(tokens.shape[1], device=tokens.device)[None] <= eot[:, None]
    return project(pooled), project(x), mask


def check_loader_settings(batch_size: int, num_workers: int | None) -> None:
    """Refuse batch sizes below 1 and negative worker counts (before any cache lookup, so a hit does not hide them)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise FewShotError(f"The batch size must be a whole number of at least 1 (got {batch_size!r}); 64 is a good start.")
    if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0):
        raise FewShotError(f"The number of workers must be 0 or more (got {num_workers!r}); 0 decodes images in the main process.")
