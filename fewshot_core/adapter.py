"""The adapter: one linear layer on CLIP image features, trained with cross-entropy (METHOD.md eqs. 6-9).

Its training set is the k-shot image features plus m translated descriptions per class (m = 0 is
"image only"). The sweep trains many heads at once, one per text count, as one batched tensor
(H heads x C classes x D): the same arithmetic as training them one by one, far less overhead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import AdapterConfig
from .errors import FewShotError
from .progress import CancelFn, check_cancel, never_cancel

INITS = ("zeroshot", "zeros")


@dataclass
class AdapterHeads:
    """H trained linear heads."""

    weight: torch.Tensor  # (H, C, D)
    bias: torch.Tensor  # (H, C)
    config: AdapterConfig
    losses: list[float]  # mean loss per step, averaged over heads

    @torch.no_grad()
    def logits(self, features: np.ndarray, batch_size: int = 4096) -> torch.Tensor:
        """(H, N, C) logits of every head for every feature row."""
        x = _prepare(features, self.config.normalize, self.weight.device)
        parts = [
            self.config.logit_scale * torch.einsum("nd,hcd->hnc", x[s : s + batch_size], self.weight) + self.bias[:, None]
            for s in range(0, len(x), batch_size)
        ]
        return torch.cat(parts, dim=1)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(H, N) predicted classes."""
        return self.logits(features).argmax(-1).cpu().numpy()

    def accuracy(self, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """(H,) accuracy of each head."""
        if len(labels) == 0:
            return np.full(len(self.weight), np.nan)
        return (self.predict(features) == np.asarray(labels)[None]).mean(axis=1)


def _prepare(features: np.ndarray, normalize: bool, device: torch.device | str) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features), dtype=torch.float32, device=device)
    return F.normalize(x, dim=-1) if normalize else x


def initial_weights(cfg: AdapterConfig, num_classes: int, dim: int, class_text: np.ndarray | None) -> torch.Tensor:
    """(C, D) starting weights: normalised class-prompt embeddings (the zero-shot classifier) or zeros."""
    if cfg.init not in INITS:
        raise FewShotError(f"Unknown adapter init {cfg.init!r}; choose one of {', '.join(INITS)}.")
    if cfg.init == "zeros":
        return torch.zeros(num_classes, dim)
    if class_text is None:
        raise FewShotError("Zero-shot initialisation needs class prompt features; use init='zeros' without them.")
    return F.normalize(torch.as_tensor(class_text, dtype=torch.float32), dim=-1)


def train_adapters(
    sets: list[tuple[np.ndarray, np.ndarray]],
    num_classes: int,
    cfg: AdapterConfig | None = None,
    class_text: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    should_cancel: CancelFn = never_cancel,
) -> AdapterHeads:
    """Train one linear head per (features (N_h, D), labels (N_h,)) training set, all at once.

    Each step draws ``batch_size`` rows with replacement from every head's own set; the loss is the
    sum over heads of each head's mean cross-entropy, so heads do not interact.
    """
    cfg = cfg or AdapterConfig()
    if not sets or any(len(y) == 0 for _, y in sets):
        raise FewShotError("Every adapter needs at least one training example.")
    device = torch.device(device)
    x_all = torch.cat([_prepare(x, cfg.normalize, device) for x, _ in sets])  # (sum N_h, D)
    y_all = torch.as_tensor(np.concatenate([y for _, y in sets]), dtype=torch.long, device=device)
    sizes = torch.tensor([len(y) for _, y in sets], device=device)
    offsets = torch.cumsum(sizes, 0) - sizes
    h, dim = len(sets), x_all.shape[1]
    init = initial_weights(cfg, num_classes, dim, class_text).to(device)
    # W = W0 + delta: weight decay on delta pulls the head back to its initialisation (the zero-shot
    # classifier), not to zero, so a 1-shot head cannot wander far from what CLIP already knows.
    delta = torch.zeros(h, num_classes, dim, device=device, requires_grad=True)  # (H, C, D)
    bias = torch.zeros(h, num_classes, device=device, requires_grad=True)
    opt = torch.optim.AdamW([{"params": [delta]}, {"params": [bias], "weight_decay": 0.0}], lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.num_steps(int(sizes.max()))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    losses = []
    for step in range(steps):
        if step % 50 == 0:
            check_cancel(should_cancel, "Adapter training")
        rows = (torch.rand(h, cfg.batch_size, generator=gen, device=device) * sizes[:, None]).long() + offsets[:, None]  # (H, B)
        weight = init + delta
        logits = cfg.logit_scale * torch.bmm(x_all[rows], weight.transpose(1, 2)) + bias[:, None]  # (H, B, C)
        loss = F.cross_entropy(logits.reshape(-1, num_classes), y_all[rows].reshape(-1)) * h
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item() / h)
    return AdapterHeads((init + delta).detach(), bias.detach(), cfg, losses)
