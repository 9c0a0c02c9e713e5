"""The Q-Former: translates CLIP text features into CLIP image features (the paper's eqs. 3-5; README, "The method").

A BLIP-2-style Q-Former (transformers' ``Blip2QFormerModel``, randomly initialised): learned query
tokens self-attend and cross-attend into the text side, either the pooled text embedding (one token)
or the per-token states of CLIP's text tower (masked to real tokens); the mean of the query outputs is
projected to the CLIP image embedding size, plus a linear skip from the pooled text that starts as the
identity. The output projection starts at zero, so an untrained Q-Former returns the raw text feature.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import LOSSES, QFormerConfig, QFormerTrainConfig  # noqa: F401 (re-exported)
from .errors import FewShotError
from .progress import CancelFn, ProgressFn, check_cancel, never_cancel, no_progress, report
from .storage import atomic_path
from .vectors import l2_normalize

log = logging.getLogger(__name__)
CONFIG_DIR = Path(__file__).parent / "qformer_configs"


def list_qformer_configs() -> list[str]:
    """Names of the shipped Q-Former sizes."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def load_qformer_config(name: str, **overrides) -> QFormerConfig:
    """A named size (``tiny``, ``small``, ``base``) with optional field overrides."""
    path = CONFIG_DIR / f"{name}.json"
    if not path.is_file():
        raise FewShotError(f"Unknown Q-Former size {name!r}; choose one of {', '.join(list_qformer_configs())}.")
    return QFormerConfig(**{**json.loads(path.read_text()), **overrides})


class TextToImageQFormer(nn.Module):
    """f_Q: text features (pooled, or per-token with a mask) -> image features (B, D_image)."""

    def __init__(self, cfg: QFormerConfig, text_dim: int, image_dim: int):
        from transformers import Blip2QFormerConfig, Blip2QFormerModel

        super().__init__()
        self.cfg = cfg
        self.text_proj = nn.Linear(text_dim, cfg.hidden_size)
        self.queries = nn.Parameter(torch.randn(1, cfg.num_queries, cfg.hidden_size) * 0.02)
        qcfg = Blip2QFormerConfig(
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            encoder_hidden_size=cfg.hidden_size,
            cross_attention_frequency=1,  # every layer reads the text
            vocab_size=2,  # the text side comes in as encoder states; no word embeddings needed
        )
        self.qformer = Blip2QFormerModel(qcfg)
        self.out = nn.Linear(cfg.hidden_size, image_dim)
        self.skip = nn.Linear(text_dim, image_dim) if cfg.skip else None
        if self.skip is not None:  # start as "text feature = image feature" (CLIP's own assumption)
            nn.init.eye_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)
            # A zero output projection makes the untrained translator exactly its skip: raw text in,
            # raw text out. Training starts from "no translation" and learns only the correction.
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, pooled: torch.Tensor, tokens: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """pooled (B, D_t); tokens (B, L, D_t) and mask (B, L) when ``text_input == "tokens"``."""
        if self.cfg.text_input == "tokens":
            if tokens is None or mask is None:
                raise FewShotError("This Q-Former reads per-token text features; encode the texts with tokens.")
            enc, enc_mask = tokens.float(), mask.long()
        else:
            enc, enc_mask = pooled[:, None, :], torch.ones(len(pooled), 1, dtype=torch.long, device=pooled.device)
        queries = self.queries.expand(len(pooled), -1, -1)
        hidden = self.qformer(query_embeds=queries, encoder_hidden_states=self.text_proj(enc), encoder_attention_mask=enc_mask)
        out = self.out(hidden.last_hidden_state.mean(dim=1))  # (B, D_image)
        return out if self.skip is None else out + self.skip(pooled)


def translation_loss(
    images: torch.Tensor,
    translated: torch.Tensor,
    labels: torch.Tensor | None = None,
    form: str = "balanced",
    mask_same_class: bool = False,
    temperature: float = 0.05,
) -> torch.Tensor:
    """The Q-Former loss over a batch of N pairs, with c_ij = cos(I_i, I'_j).

    - ``paper``: matched 1 - c_ii, unmatched max(0, c_ij), mean over all N^2 (the paper's eq. 4-5 with its cases corrected; README, "The method, as implemented").
    - ``paper-literal``: the paper's printed eq. 4 (cases swapped); kept only to show that it fails.
    - ``balanced``: mean of the matched terms + mean of the unmatched terms (each side weighs the same).
    - ``infonce``: symmetric cross-entropy over c / temperature (CLIP's contrastive loss).

    With ``mask_same_class``, off-diagonal pairs whose labels are equal are not negatives (they add
    nothing; the N^2 forms keep their N^2 denominator).
    """
    c = F.normalize(images, dim=-1) @ F.normalize(translated, dim=-1).T  # (N, N)
    n = len(c)
    eye = torch.eye(n, dtype=torch.bool, device=c.device)
    neg = ~eye
    if mask_same_class and labels is not None:
        neg = neg & (labels[:, None] != labels[None, :])
    diag = c.diagonal()
    if form == "paper":
        return ((1 - diag).sum() + (c.clamp(min=0) * neg).sum()) / n**2
    if form == "paper-literal":
        return (diag.clamp(min=0).sum() + ((1 - c) * neg).sum()) / n**2
    if form == "balanced":
        unmatched = (c.clamp(min=0) * neg).sum() / neg.sum().clamp(min=1)
        return (1 - diag).mean() + unmatched
    if form == "infonce":
        logits = (c / temperature).masked_fill(~(neg | eye), float("-inf"))
        target = torch.arange(n, device=c.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    raise FewShotError(f"Unknown Q-Former loss {form!r}; choose one of {', '.join(LOSSES)}.")


@dataclass
class TextSide:
    """Text features to translate: pooled (M, D) and optionally per-token (M, L, D) + mask (M, L)."""

    pooled: np.ndarray
    labels: np.ndarray  # (M,)
    tokens: np.ndarray | None = None
    mask: np.ndarray | None = None

    def subset(self, idx: np.ndarray) -> TextSide:
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return TextSide(self.pooled[idx], self.labels[idx], pick(self.tokens), pick(self.mask))


@dataclass
class TrainedQFormer:
    """A trained translator and how it was trained."""

    model: TextToImageQFormer
    losses: list[float] = field(default_factory=list)  # mean loss per epoch
    pairs_seen: int = 0
    seconds: float = 0.0

    @property
    def pairs_per_s(self) -> float:
        return self.pairs_seen / max(self.seconds, 1e-9)


def _pair_indices(image_labels: np.ndarray, text_labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of (image, text) pairs of the same class: the larger side is walked, the other drawn."""
    walk_images = len(image_labels) >= len(text_labels)
    walked, drawn = (image_labels, text_labels) if walk_images else (text_labels, image_labels)
    order = rng.permutation(len(walked))
    by_class = np.argsort(drawn, kind="stable")  # drawn indices grouped by class
    classes, first, count = np.unique(drawn[by_class], return_index=True, return_counts=True)
    slot = np.searchsorted(classes, walked[order])  # every walked class has partners (checked by the caller)
    partner = by_class[first[slot] + (rng.random(len(order)) * count[slot]).astype(np.int64)]
    return (order, partner) if walk_images else (partner, order)


def train_qformer(
    image_features: np.ndarray,
    image_labels: np.ndarray,
    text: TextSide,
    arch: QFormerConfig | None = None,
    train: QFormerTrainConfig | None = None,
    device: str | torch.device = "cpu",
    on_progress: ProgressFn = no_progress,
    should_cancel: CancelFn = never_cancel,
    class_names: list[str] | None = None,
) -> TrainedQFormer:
    """Train f_Q on (image, description-of-its-class) pairs.

    Args:
        image_features: (N, D_image) the images the protocol allows (support or whole train split).
        image_labels: (N,)
        text: descriptions to pair with them; every image class needs at least one description.
        class_names: the classes' names, to name the ones without descriptions in the error.
    """
    arch, train = arch or QFormerConfig(), train or QFormerTrainConfig()
    train.validate()
    missing = sorted(set(np.unique(image_labels).tolist()) - set(np.unique(text.labels).tolist()))
    if missing:
        from .names import name_some

        names = [class_names[c] if class_names is not None and c < len(class_names) else f"class {c}" for c in missing]
        raise FewShotError(
            f"{len(missing)} classes have images but no descriptions: {name_some(names)}. Generate or import descriptions for them "
            "(or choose a description set that covers every class)."
        )
    text = text.subset(np.flatnonzero(np.isin(text.labels, np.unique(image_labels))))  # a class without images has no partner
    torch.manual_seed(train.seed)
    rng = np.random.default_rng(train.seed)
    device = torch.device(device)
    model = TextToImageQFormer(arch, text.pooled.shape[1], image_features.shape[1]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    img = torch.as_tensor(image_features, dtype=torch.float32, device=device)
    ilab = torch.as_tensor(image_labels, device=device)
    txt = _text_tensors(text, device)
    per_epoch = max(len(image_labels), len(text.labels))
    total_steps = train.total_steps(per_epoch)
    epochs = math.ceil(total_steps / math.ceil(per_epoch / train.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=train.lr, total_steps=total_steps, pct_start=0.1)
    result, start, step = TrainedQFormer(model), time.perf_counter(), 0
    model.train()
    for epoch in range(epochs):
        ii, tt = _pair_indices(image_labels, text.labels, rng)
        total, seen = 0.0, 0
        for s in range(0, per_epoch, train.batch_size):
            if step == total_steps:
                break
            check_cancel(should_cancel, "Q-Former training")
            bi, bt = torch.as_tensor(ii[s : s + train.batch_size], device=device), torch.as_tensor(tt[s : s + train.batch_size], device=device)
            pred = model(*(t[bt] if t is not None else None for t in txt))
            loss = translation_loss(img[bi], pred, ilab[bi], train.loss, train.mask_same_class, train.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total, seen, step = total + loss.item() * len(bi), seen + len(bi), step + 1
        result.losses.append(total / max(seen, 1))
        result.pairs_seen += seen
        message = f"Q-Former epoch {epoch + 1}/{epochs}, loss {result.losses[-1]:.4f}"
        report(on_progress, epoch + 1, epochs, message, step="qformer", metrics={"qformer_loss": result.losses[-1], "qformer_step": step})
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def _text_tensors(text: TextSide, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    to = lambda a, dt: None if a is None else torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
    return to(text.pooled, torch.float32), to(text.tokens, torch.float16), to(text.mask, torch.bool)


@torch.no_grad()
def translate(model: TextToImageQFormer, text: TextSide, batch_size: int = 1024) -> np.ndarray:
    """f_Q(T) for every text: (M, D_image) pseudo image features."""
    device = next(model.parameters()).device
    model.eval()
    txt = _text_tensors(text, device)
    out = [
        model(*(t[s : s + batch_size] if t is not None else None for t in txt)).float().cpu().numpy() for s in range(0, len(text.labels), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, model.out.out_features), np.float32)


def alignment(translated: np.ndarray, text_labels: np.ndarray, image_features: np.ndarray, image_labels: np.ndarray) -> dict[str, float]:
    """How well translated texts land on their class's images.

    Returns:
        mean_cosine: mean over texts of the mean cosine to the images of its class;
        retrieval_acc: share of texts whose nearest class centroid (mean normalised image) is their class;
        cosine_error: 1 - mean_cosine.
    """
    t, x = l2_normalize(translated), l2_normalize(image_features)
    classes = np.unique(image_labels)
    centroids = np.stack([x[image_labels == c].mean(0) for c in classes])  # mean of unit vectors
    sims = t @ centroids.T  # (M, C): mean cosine to each class's images
    col = np.searchsorted(classes, text_labels)
    mean_cos = float(sims[np.arange(len(t)), col].mean())
    retrieval = float((classes[(t @ l2_normalize(centroids).T).argmax(1)] == text_labels).mean())
    return {"mean_cosine": mean_cos, "retrieval_acc": retrieval, "cosine_error": 1 - mean_cos}


def state_checksum(state: dict[str, torch.Tensor], key: str = "") -> str:
    """SHA-256 over the cache ``key`` the weights are stored under, then every tensor's name, dtype, shape and bytes
    (sorted by name): a file copied over another key's entry no longer matches."""
    h = hashlib.sha256(f"key|{key}|".encode())
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_qformer(path: Path, model: torch.nn.Module, arch: QFormerConfig, train: QFormerTrainConfig) -> None:
    """Store a trained translator with its configs and a SHA-256 of its cache key (the file's name) and weights
    (safetensors, atomic)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"key": path.stem, "arch": json.dumps(asdict(arch)), "train": json.dumps(asdict(train)), "sha256": state_checksum(state, path.stem)}
    try:
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata=meta)
    except FewShotError as e:  # a read-only or full cache: the translator is only not kept (it is retrained next time)
        log.warning("Could not cache the trained Q-Former: %s", e)


def load_qformer(path: Path, arch: QFormerConfig, text_dim: int, image_dim: int) -> TextToImageQFormer | None:
    """A stored translator, or None when there is none or it is damaged (then it is deleted: retrain).

    Damaged means: unreadable, wrong shapes, no checksum, or a SHA-256 over the file's name (its cache key)
    and weights that differs from the one stored beside them (an edited file, or one copied over another
    key's entry); such a file is never loaded.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = (f.metadata() or {}).get("sha256")
        state = load_file(str(path))
        if stored is None or stored != state_checksum(state, path.stem):
            raise ValueError("checksum mismatch (edited, or another cache key's entry)")
        model = TextToImageQFormer(arch, text_dim, image_dim)
        model.load_state_dict(state)
        return model.eval()
    except (SafetensorError, RuntimeError, OSError, ValueError) as e:
        log.warning("Cached Q-Former %s is damaged (%s); deleting it and training again.", path, e)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only cache: the entry stays, and is never loaded
        return None
