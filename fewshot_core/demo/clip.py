"""The demo CLIP: a small open_clip model trained from scratch on generated shape images and captions.

Recreate the committed weights with ``python -m fewshot_core demo train-clip`` (the seed and config in
``assets/demo-clip.json``; a GPU takes minutes, this CPU hours). Its image tower (a small
ModifiedResNet) sees shape, colour and pattern; its text side is imperfect on purpose, as real CLIP
meets fine-grained classes: captions name only some of an image's attributes, ~15 % name a wrong
one, they rarely use the class names' terms ("striped", "hexagon") and mostly everyday words
("stripy", "six-sided shape"), never the zero-shot prompt's form ("a photo of a ..."), and half of the
demo's classes (their attribute combinations) never appear in its training.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..backbone import BackboneConfig, load_backbone, register_package_configs, resolve_device
from ..progress import ProgressFn, no_progress
from ..storage import atomic_path, write_json
from . import dataset as demo
from .words import word_for

DEMO_MODEL = demo.CLIP_MODEL
DEMO_WEIGHTS = demo.CLIP_WEIGHTS
EVAL_SHOTS = 15  # the few-shot figure recorded beside the weights (image-only adapter, default settings)
CURVE_SHOTS = (1, 4, EVAL_SHOTS)  # shot counts reported (1-shot: the headroom the demo leaves for text to help)
EVAL_SEEDS = (0, 1, 2, 3, 4)
PROBE_C = 10.0  # inverse L2 strength of the all-train logistic-regression probe (unit-norm features)
REPORT_ADAPTER_LR = 5e-3  # the image-only adapter of the report: the settings the demo CLIP v3 was chosen with (README)


@dataclass
class DemoClipConfig:
    """How the demo CLIP is trained (stored beside the weights)."""

    seed: int = 0
    steps: int = 200  # v3: chosen on validation for few-shot headroom (benchmarks/train_demo_clip_gpu.py)
    batch_size: int = 512
    lr: float = 1e-3  # AdamW, one-cycle schedule
    weight_decay: float = 0.1
    pool_images: int = 120_000  # generated training images, rendered once (about 1.5 GB as uint8)
    held_out_classes: int = 24  # demo classes whose attribute combination CLIP never sees
    wrong_attribute_p: float = 0.15  # chance that a caption names a wrong attribute
    full_caption_p: float = 0.2  # chance that a caption names all three attributes (never as "a photo of a ...")
    synonym_p: float = 0.3  # chance that a common attribute word is replaced by an everyday synonym
    rare_term_p: float = 0.0  # chance that a rare class-name term ("striped", "hexagon") is used as such
    image_seed_offset: int = 1000  # training images come from other seeds than the demo dataset


def demo_backbone_config(device: str = "auto", weights: Path = DEMO_WEIGHTS) -> BackboneConfig:
    """The demo CLIP, loaded like any open_clip checkpoint file."""
    return demo.clip_config(device, weights)


def _caption(colour: str, pattern: str, shape: str, rng: np.random.Generator, cfg: DemoClipConfig, forbidden: frozenset = frozenset()) -> str:
    """A caption naming 1-3 of the attributes (sometimes one of them wrong, never into a held-out class)."""
    if rng.random() < cfg.wrong_attribute_p:
        which = rng.integers(3)
        wrong = (
            rng.choice(list(demo.COLOURS)) if which == 0 else colour,
            rng.choice(demo.PATTERNS) if which == 1 else pattern,
            rng.choice(demo.SHAPES) if which == 2 else shape,
        )
        if wrong not in forbidden:
            colour, pattern, shape = (str(v) for v in wrong)
    c, p, s = (word_for(v, rng, cfg.synonym_p, cfg.rare_term_p) for v in (colour, pattern, shape))
    if rng.random() < cfg.full_caption_p:
        return [f"a {c} {p} {s}.", f"a {s} that is {c} and {p}.", f"{p} {c} {s} on a light background."][rng.integers(3)]
    forms = [f"a {c} {s}.", f"a {s} in {c}.", f"a {p} {s}.", f"a {s}, {p}.", f"something {c} and {p}.", f"a {s}.", f"a drawing of a {c} {s}."]
    return forms[rng.choice(len(forms), p=[0.2, 0.1, 0.2, 0.1, 0.2, 0.1, 0.1])]


def held_out_classes(cfg: DemoClipConfig) -> list[tuple[str, str, str]]:
    """The demo classes whose attribute combinations never appear in training."""
    classes = demo.class_list()
    rng = np.random.default_rng([cfg.seed, 3])
    return sorted(classes[i] for i in rng.choice(len(classes), cfg.held_out_classes, replace=False))


def _render_chunk(args: tuple[list[tuple[str, str, str]], int, int, int]) -> np.ndarray:
    """Images start..stop of the pool, each from its own seed (so any worker count gives the same pool)."""
    combos, seed, start, stop = args
    return np.stack([np.asarray(demo.render(*combos[i - start], np.random.default_rng([seed, i]))) for i in range(start, stop)])


def training_pairs(
    cfg: DemoClipConfig, workers: int | None = None, images: np.ndarray | None = None
) -> tuple[np.ndarray, list[str], list[tuple[str, str, str]]]:
    """Generated images (P, 64, 64, 3) uint8, their captions, and the demo classes held out of them.

    The images depend only on ``seed``, ``pool_images``, ``held_out_classes`` and ``image_seed_offset``;
    ``images`` passes ones already rendered for those (configs differing only in captions share them).
    """
    held = held_out_classes(cfg)
    combos = [(c, p, s) for s in demo.SHAPES for c in demo.COLOURS for p in demo.PATTERNS if (c, p, s) not in set(held)]
    rng = np.random.default_rng([cfg.seed, 4])
    picked = [combos[i] for i in rng.integers(len(combos), size=cfg.pool_images)]
    caption_rng = np.random.default_rng([cfg.seed, 5])
    captions = [_caption(*k, caption_rng, cfg, frozenset(held)) for k in picked]
    if images is not None:
        return images, captions, held
    chunk = 2000
    jobs = [(picked[s : s + chunk], cfg.seed + cfg.image_seed_offset, s, min(s + chunk, cfg.pool_images)) for s in range(0, cfg.pool_images, chunk)]
    workers = workers or max(1, min(16, (os.cpu_count() or 1)))
    if workers == 1 or len(jobs) == 1:
        images = [_render_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            images = list(pool.map(_render_chunk, jobs))
    return np.concatenate(images), captions, held


def to_model_input(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """(B, H, W, 3) uint8 at the model's size -> (B, 3, H, W) normalised floats, as open_clip's preprocess does."""
    x = images.permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean, device=x.device)[:, None, None]) / torch.tensor(std, device=x.device)[:, None, None]


def contrastive_loss(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, caption_ids: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric loss where identical captions in a batch are all right answers (soft targets).

    Short captions repeat within a batch ("a red circle."); plain CLIP loss would call all but one wrong.
    """
    logits = scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T  # (B, B)
    same = (caption_ids[:, None] == caption_ids[None, :]).float()
    target = same / same.sum(1, keepdim=True)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def train_demo_clip(
    cfg: DemoClipConfig | None = None,
    out: Path = DEMO_WEIGHTS,
    on_progress: ProgressFn = no_progress,
    device: str = "auto",
    workers: int | None = None,
    max_seconds: float | None = None,
    evaluate: bool = True,
    images: np.ndarray | None = None,
) -> dict:
    """Train the demo CLIP from scratch and write fp16 safetensors weights plus a JSON record.

    Args:
        max_seconds: stop early after this long (the record then says so: not re-creatable as configured).
        evaluate: add the demo test figures (zero-shot, probe, 15-shot adapter) to the record.
        images: the training images, already rendered (see ``training_pairs``).
    """
    import open_clip
    from safetensors.torch import save_file

    cfg = cfg or DemoClipConfig()
    register_package_configs()
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    model = open_clip.create_model(DEMO_MODEL).to(dev)
    tokenizer = open_clip.get_tokenizer(DEMO_MODEL)
    images, captions, held = training_pairs(cfg, workers, images)
    pool = torch.from_numpy(images).to(dev)  # (P, 64, 64, 3) uint8
    unique, inverse = np.unique(captions, return_inverse=True)  # a few thousand distinct captions
    caption_ids = torch.from_numpy(inverse.reshape(-1)).to(dev)  # (P,)
    tokens = tokenizer(unique.tolist()).to(dev)[caption_ids]  # (P, L)
    mean = getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
    std = getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
    start = time.perf_counter()
    losses = _train_loop(model, cfg, pool, tokens, caption_ids, (mean, std), dev, on_progress, start, max_seconds)
    steps_done = len(losses)
    with atomic_path(out) as tmp:
        save_file({k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    record = {
        "config": asdict(cfg),
        "held_out_classes": [" ".join(h) for h in held],
        "steps_done": steps_done,
        "stopped_early": steps_done < cfg.steps,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else str(dev),
        "seconds": round(time.perf_counter() - start, 1),
        "final_loss": float(np.mean(losses[-50:])) if losses else float("nan"),
    }
    if evaluate:
        record["test"] = demo_report("cpu", out, held=record["held_out_classes"])
    write_json(out.with_suffix(".json"), record)
    return record


def _train_loop(model, cfg: DemoClipConfig, pool, tokens, caption_ids, norm, dev, on_progress, start, max_seconds) -> list[float]:
    """AdamW with a one-cycle schedule on random batches of the pool; returns the loss of every step."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=dev.type == "cuda")
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)
    losses: list[torch.Tensor] = []
    model.train()
    for step in range(cfg.steps):
        idx = torch.randint(0, len(pool), (cfg.batch_size,), generator=gen, device=dev)
        with autocast:
            img_f, txt_f, scale = model(to_model_input(pool[idx], *norm), tokens[idx])
            loss = contrastive_loss(img_f.float(), txt_f.float(), scale.float(), caption_ids[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)  # at most 100, as CLIP
        losses.append(loss.detach())
        if step % 100 == 0 or step == cfg.steps - 1:
            on_progress(step + 1, cfg.steps, f"demo CLIP step {step + 1}, loss {torch.stack(losses[-50:]).mean().item():.3f}")
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    model.eval()
    return [float(v) for v in torch.stack(losses).cpu()] if losses else []


def evaluate_features(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    class_text: np.ndarray,
    held_out: np.ndarray,
    device: str = "cpu",
) -> dict:
    """The demo figures from features: zero-shot, all-train logistic regression, 1/4/15-shot image-only adapter.

    Each overall and separately for the classes seen in the CLIP's training and the held-out ones
    (``held_out``: (C,) bool).

    Returns:
        ``{"zero_shot": {"all", "seen", "held_out"}, "probe_all_train": {...}, "adapter_1_shot": {...},
        "adapter_4_shot": {...}, "adapter_15_shot": {...}, "how": str}``
    """
    from sklearn.linear_model import LogisticRegression

    from ..baselines import zero_shot_predict
    from ..vectors import l2_normalize

    def split(pred: np.ndarray) -> dict:
        ok = pred == test_y
        held = held_out[test_y]
        return {"all": float(ok.mean()), "seen": float(ok[~held].mean()), "held_out": float(ok[held].mean())}

    zs = split(zero_shot_predict(test_x, class_text))
    probe = LogisticRegression(C=PROBE_C, max_iter=1000).fit(l2_normalize(train_x), train_y)
    lr = split(probe.predict(l2_normalize(test_x)))
    adapters = {f"adapter_{shots}_shot": _adapter_figures(train_x, train_y, test_x, class_text, shots, split, device) for shots in CURVE_SHOTS}
    return {
        "zero_shot": zs,
        "probe_all_train": lr,
        **adapters,
        "how": (
            f"zero-shot: prompt 'a photo of a {{class}}.'; probe: logistic regression (C={PROBE_C:g}) on all train features; "
            f"adapter: image-only from the class-name prompts (lr {REPORT_ADAPTER_LR:g}, decay 10), {'/'.join(map(str, CURVE_SHOTS))} shots, mean of seeds {list(EVAL_SEEDS)}"
        ),
    }


def _adapter_figures(train_x, train_y, test_x, class_text, shots: int, split, device) -> dict:
    """Image-only adapter started from the class-name prompts on ``shots`` labelled images per class, mean over ``EVAL_SEEDS``."""
    from ..adapter import AdapterConfig, pooled, train_adapter_heads
    from ..datasets.sampling import sample_few_shot

    runs = []
    for seed in EVAL_SEEDS:
        few = sample_few_shot(train_y, shots, seed)
        support = pooled([(train_x[few.support], train_y[few.support])])
        cfg = AdapterConfig(init="zeroshot", lr=REPORT_ADAPTER_LR, seed=seed)  # from the class-name prompts: the CLIP alone
        heads = train_adapter_heads(*support, len(class_text), cfg, class_text, device)
        runs.append(split(heads.predict(test_x)[0]))
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def demo_report(
    device: str = "cpu", weights: Path = DEMO_WEIGHTS, root: Path | None = None, cache: Path | None = None, held: list[str] | None = None
) -> dict:
    """The demo figures of a demo CLIP on the demo's train/test splits (``root``, default: the cache's demo folder;
    features cached under ``cache``, default: the default cache).

    ``held``: the held-out class names (default: from the record beside the weights).
    """
    from ..encode import encode_texts
    from ..features import FeatureCache, image_features
    from ..layout import CacheLayout
    from ..vectors import l2_normalize

    layout = CacheLayout.of(cache) if cache else CacheLayout.resolve()
    backbone = load_backbone(demo_backbone_config(device, weights))
    ds = demo.load(root or layout.demo_data)
    fc = FeatureCache(layout)
    train = image_features(fc, backbone, ds, "train", num_workers=0)
    test = image_features(fc, backbone, ds, "test", num_workers=0)
    class_text = l2_normalize(encode_texts(backbone, [f"a photo of a {n}." for n in ds.display_names]))
    mask = held_out_mask(ds.display_names, weights) if held is None else np.array([n in set(held) for n in ds.display_names])
    return evaluate_features(train.features, train.labels, test.features, test.labels, class_text, mask, device)


def held_out_mask(display_names: list[str], weights: Path = DEMO_WEIGHTS) -> np.ndarray:
    """(C,) True for the demo classes held out of the CLIP's training (from the record beside the weights)."""
    import json

    record_path = Path(weights).with_suffix(".json")
    held = set(json.loads(record_path.read_text())["held_out_classes"]) if record_path.is_file() else set()
    return np.array([n in held for n in display_names])


def validation_report(device: str = "cpu", weights: Path = DEMO_WEIGHTS, image_seed: int = 1, held: list[str] | None = None) -> dict:
    """The demo figures on a validation copy of the demo: the same 48 classes, new images (``image_seed``).

    For choosing among trained candidates without touching the demo's test split.
    """
    from ..encode import encode_texts
    from ..vectors import l2_normalize

    backbone = load_backbone(demo_backbone_config(device, weights))
    names = [" ".join(k) for k in demo.class_list()]
    per_class = demo.TRAIN_PER_CLASS + demo.TEST_PER_CLASS
    images = [im for c in range(len(names)) for im in demo.render_class_images(c, per_class, image_seed=image_seed)]
    x = torch.stack([backbone.preprocess(im) for im in images]).to(backbone.device)
    with torch.inference_mode():
        feats = torch.cat([backbone.model.encode_image(x[s : s + 512]) for s in range(0, len(x), 512)]).float().cpu().numpy()
    labels = np.repeat(np.arange(len(names)), per_class)
    is_train = np.tile(np.arange(per_class) < demo.TRAIN_PER_CLASS, len(names))
    class_text = l2_normalize(encode_texts(backbone, [f"a photo of a {n}." for n in names]))
    mask = held_out_mask(names, weights) if held is None else np.array([n in set(held) for n in names])
    return evaluate_features(feats[is_train], labels[is_train], feats[~is_train], labels[~is_train], class_text, mask, device)
