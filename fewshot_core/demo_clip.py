"""The demo CLIP: a small open_clip model trained from scratch on generated shape images and captions.

Recreate the committed weights with ``python -m fewshot_core demo train-clip`` (same seed, same
config, CPU, minutes). Made hard on purpose, as real CLIP meets fine-grained classes it has rarely
seen: captions name only some of an image's attributes and are sometimes wrong, and half of the demo's
classes (their attribute combinations) never appear in CLIP's training.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .backbone import BackboneConfig, load_backbone, register_package_configs
from .datasets import demo
from .progress import ProgressFn, no_progress
from .storage import atomic_path, write_json

DEMO_MODEL = demo.CLIP_MODEL
DEMO_WEIGHTS = demo.CLIP_WEIGHTS


@dataclass
class DemoClipConfig:
    """How the demo CLIP is trained (stored beside the weights)."""

    seed: int = 0
    steps: int = 1500
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    pool_images: int = 8000  # generated training images, rendered once
    held_out_classes: int = 24  # demo classes whose attribute combination CLIP never sees
    wrong_attribute_p: float = 0.15  # chance that a caption names a wrong attribute
    image_seed_offset: int = 1000  # training images come from other seeds than the demo dataset


def demo_backbone_config(device: str = "auto", weights: Path = DEMO_WEIGHTS) -> BackboneConfig:
    """The demo CLIP, loaded like any open_clip checkpoint file."""
    return BackboneConfig(DEMO_MODEL, str(weights), quick_gelu=False, device=device)


def _caption(colour: str, pattern: str, shape: str, rng: np.random.Generator, wrong_p: float, forbidden: frozenset = frozenset()) -> str:
    """A caption naming 1-3 of the attributes (sometimes one of them wrong, never into a held-out class)."""
    if rng.random() < wrong_p:
        which = rng.integers(3)
        wrong = (
            rng.choice(list(demo.COLOURS)) if which == 0 else colour,
            rng.choice(demo.PATTERNS) if which == 1 else pattern,
            rng.choice(demo.SHAPES) if which == 2 else shape,
        )
        if wrong not in forbidden:
            colour, pattern, shape = wrong
    parts = rng.choice(4)
    if parts == 0:
        return f"a photo of a {colour} {pattern} {shape}."
    if parts == 1:
        return f"a {colour} {shape}."
    if parts == 2:
        return f"a {pattern} {shape}."
    return f"something {colour} and {pattern}."


def training_pairs(cfg: DemoClipConfig) -> tuple[list, list[str], list[tuple[str, str, str]]]:
    """Generated (image, caption) pairs, and the demo classes held out of them."""
    classes = demo.class_list()
    rng = np.random.default_rng([cfg.seed, 3])
    held = {classes[i] for i in rng.choice(len(classes), cfg.held_out_classes, replace=False)}
    combos = [(c, p, s) for s in demo.SHAPES for c in demo.COLOURS for p in demo.PATTERNS if (c, p, s) not in held]
    images, captions = [], []
    for i in range(cfg.pool_images):
        colour, pattern, shape = combos[rng.integers(len(combos))]
        images.append(demo.render(colour, pattern, shape, np.random.default_rng([cfg.seed + cfg.image_seed_offset, i])))
        captions.append(_caption(colour, pattern, shape, rng, cfg.wrong_attribute_p, frozenset(held)))
    return images, captions, sorted(held)


def train_demo_clip(cfg: DemoClipConfig | None = None, out: Path = DEMO_WEIGHTS, on_progress: ProgressFn = no_progress) -> dict:
    """Train the demo CLIP from scratch and write fp16 safetensors weights plus a JSON record."""
    import open_clip
    from open_clip.loss import ClipLoss
    from safetensors.torch import save_file

    cfg = cfg or DemoClipConfig()
    register_package_configs()
    torch.manual_seed(cfg.seed)
    model, _, preprocess = open_clip.create_model_and_transforms(DEMO_MODEL)
    tokenizer = open_clip.get_tokenizer(DEMO_MODEL)
    images, captions, held = training_pairs(cfg)
    x = torch.stack([preprocess(im) for im in images])  # (P, 3, 64, 64)
    tokens = tokenizer(captions)  # (P, 32)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    loss_fn, gen = ClipLoss(), torch.Generator().manual_seed(cfg.seed)
    start, losses = time.perf_counter(), []
    model.train()
    for step in range(cfg.steps):
        idx = torch.randint(0, len(x), (cfg.batch_size,), generator=gen)
        img_f, txt_f, scale = model(x[idx], tokens[idx])
        loss = loss_fn(img_f, txt_f, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == cfg.steps - 1:
            on_progress(step + 1, cfg.steps, f"demo CLIP step {step + 1}, loss {np.mean(losses[-50:]):.3f}")
    with atomic_path(out) as tmp:
        save_file({k: v.detach().half().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    record = {
        "config": asdict(cfg),
        "held_out_classes": [" ".join(h) for h in held],
        "seconds": round(time.perf_counter() - start, 1),
        "final_loss": float(np.mean(losses[-50:])),
    }
    record["zero_shot_test_acc"] = demo_zero_shot(weights=out)
    write_json(out.with_suffix(".json"), record)
    return record


def demo_zero_shot(device: str = "cpu", weights: Path = DEMO_WEIGHTS) -> float:
    """Zero-shot accuracy of a demo CLIP on the demo test split ("a photo of a {class}.")."""
    from .baselines import zero_shot_predict
    from .features import encode_images, encode_texts

    backbone = load_backbone(demo_backbone_config(device, weights))
    ds = demo.load(None)
    test = ds.split("test")
    feats, _, _ = encode_images(backbone, test.paths, num_workers=0)
    prompts = encode_texts(backbone, [f"a photo of a {n}." for n in ds.display_names])
    return float((zero_shot_predict(feats, prompts) == test.labels).mean())
