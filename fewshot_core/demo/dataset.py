"""The offline demo dataset: procedurally generated fine-grained shapes, made from a seed in seconds.

Classes combine a shape, a colour and a pattern ("red striped circle"); classes differ in one attribute
from their neighbours, and every image varies in position, size, rotation, background and noise, so a
class is not one template. Nothing is downloaded or committed: ``load(root)`` generates the folder the
first time (deterministically) and reads it like any other dataset. Per-class attributes make the
``attributes`` description source work.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..errors import FewShotError
from ..layout import CacheLayout
from ..storage import write_json

if TYPE_CHECKING:
    from ..datasets.base import ImageDataset

NAME = "demo"
TITLE = "Offline demo (generated shapes)"
GENERATOR_VERSION = 1
SEED = 0
NUM_CLASSES = 48
TRAIN_PER_CLASS = 24
TEST_PER_CLASS = 16
SIZE = 64
SHAPES = ["circle", "square", "triangle", "diamond", "star", "hexagon", "cross", "ring"]
COLOURS = {
    "red": (205, 40, 40),
    "orange": (235, 135, 30),
    "yellow": (225, 205, 40),
    "green": (50, 160, 60),
    "blue": (45, 85, 205),
    "purple": (135, 60, 175),
}
PATTERNS = ["solid", "striped", "dotted", "checkered"]
CLIP_MODEL = "fewshot-demo"  # the demo's own small CLIP (model_configs/fewshot-demo.json)
_PACKAGED_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "demo-clip.safetensors"  # a wheel's copy of assets/
_CHECKOUT_WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "demo-clip.safetensors"
CLIP_WEIGHTS = _PACKAGED_WEIGHTS if _PACKAGED_WEIGHTS.is_file() else _CHECKOUT_WEIGHTS  # made by `demo train-clip`
# "auto" precision means fp32 for the demo CLIP, on every device: its Table 1 in the README then comes out the
# same on any machine (bf16 features, the auto choice on CPUs with native bf16, moved its figures by up to 0.4
# point); the model is small enough that fp32 costs little
CLIP_PRECISION = "fp32"


def clip_config(device: str = "auto", weights: Path = CLIP_WEIGHTS):
    """The demo's own CLIP as a ``BackboneConfig``, loaded like any open_clip checkpoint file (its registry entry's
    ``own_clip``)."""
    from ..config import BackboneConfig

    return BackboneConfig(CLIP_MODEL, str(weights), quick_gelu=False, device=device, precision=CLIP_PRECISION)


OFFICIAL_COUNTS = {"num_classes": NUM_CLASSES, "num_train": NUM_CLASSES * TRAIN_PER_CLASS, "num_test": NUM_CLASSES * TEST_PER_CLASS}


def class_list(seed: int = SEED) -> list[tuple[str, str, str]]:
    """The (colour, pattern, shape) of every class: a fixed random subset of all combinations."""
    combos = [(c, p, s) for s in SHAPES for c in COLOURS for p in PATTERNS]
    rng = np.random.default_rng([seed, 7])
    return [combos[i] for i in sorted(rng.choice(len(combos), NUM_CLASSES, replace=False))]


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a polygonal shape around (cx, cy)."""
    if shape == "star":
        pts = [(r if i % 2 == 0 else r * 0.45, i * math.pi / 5) for i in range(10)]
    elif shape == "cross":
        w = r * 0.38
        corners = [(w, r), (w, w), (r, w), (r, -w), (w, -w), (w, -r), (-w, -r), (-w, -w), (-r, -w), (-r, w), (-w, w), (-w, r)]
        return [(cx + x * math.cos(angle) - y * math.sin(angle), cy + x * math.sin(angle) + y * math.cos(angle)) for x, y in corners]
    else:
        sides = {"triangle": 3, "square": 4, "diamond": 4, "hexagon": 6}[shape]
        offset = math.pi / 4 if shape == "square" else 0.0
        pts = [(r * (0.75 if shape == "diamond" and i % 2 else 1.0), offset + 2 * math.pi * i / sides) for i in range(sides)]
    return [(cx + d * math.cos(a + angle), cy + d * math.sin(a + angle)) for d, a in pts]


def _pattern_layer(pattern: str, colour: np.ndarray, rng: np.random.Generator, size: int) -> Image.Image:
    """A full-size RGB layer: the fill colour with the pattern drawn in a contrasting tone."""
    layer = Image.new("RGB", (size, size), tuple(int(v) for v in colour))
    draw = ImageDraw.Draw(layer)
    other = tuple(int(v) for v in np.clip(colour * 0.35 + 20, 0, 255))
    step = int(rng.integers(5, 8))
    if pattern == "striped":
        for x in range(-size, 2 * size, step * 2):
            draw.line([(x, 0), (x + size, size)], fill=other, width=step)
    elif pattern == "dotted":
        for y in range(step // 2, size, step * 2):
            for x in range(step // 2 + (y // (2 * step)) % 2 * step, size, step * 2):
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=other)
    elif pattern == "checkered":
        for y in range(0, size, step):
            for x in range((y // step) % 2 * step, size, 2 * step):
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=other)
    return layer


def render(colour: str, pattern: str, shape: str, rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """One image of a class, with random position, size, rotation, background and noise."""
    background = rng.integers(150, 256, 3)
    img = Image.fromarray(np.clip(background + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8))
    r = size * rng.uniform(0.22, 0.36)
    cx, cy = rng.uniform(r + 2, size - r - 2, 2)
    angle = rng.uniform(0, 2 * math.pi)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    if shape in ("circle", "ring"):
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        if shape == "ring":
            draw.ellipse([cx - r * 0.55, cy - r * 0.55, cx + r * 0.55, cy + r * 0.55], fill=0)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, angle), fill=255)
    fill = np.clip(np.array(COLOURS[colour]) + rng.normal(0, 18, 3), 0, 255)
    img.paste(_pattern_layer(pattern, fill, rng, size), mask=mask)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8)))
    noisy = np.asarray(img, np.float32) + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def render_class_images(c: int, count: int, seed: int = SEED, image_seed: int | None = None) -> list[Image.Image]:
    """The first ``count`` images of class ``c``; ``image_seed`` other than ``seed`` gives new images of the same classes."""
    colour, pattern, shape = class_list(seed)[c]
    rng = np.random.default_rng([seed if image_seed is None else image_seed, 11, c])
    return [render(colour, pattern, shape, rng) for _ in range(count)]


def generate(root: Path | str, seed: int = SEED) -> Path:
    """Write the demo dataset under ``root/fewshot-demo`` (about 2,000 small PNGs, a few seconds).

    Written into a temporary sibling folder and renamed into place, so a concurrent reader never sees
    half-written images; if another process finished first, its copy is kept.
    """
    base = Path(root).expanduser() / "fewshot-demo"
    base.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fewshot-demo-", dir=base.parent))
    try:
        _write_demo(tmp, seed)
        if base.exists():  # an older generator's copy (a finished copy of this version is never regenerated)
            if _is_current(base):
                return base
            shutil.rmtree(base)
        os.replace(tmp, base)
    except OSError:
        if not _is_current(base):
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return base


def _write_demo(base: Path, seed: int) -> None:
    """Every file of the demo dataset, under ``base``."""
    classes = class_list(seed)
    rows = {"train": [], "test": []}
    for c, (colour, pattern, shape) in enumerate(classes):
        folder = f"{c + 1:03d}.{colour}_{pattern}_{shape}"
        (base / "images" / folder).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(render_class_images(c, TRAIN_PER_CLASS + TEST_PER_CLASS, seed)):
            rel = f"{folder}/{i:03d}.png"
            image.save(base / "images" / rel)
            rows["train" if i < TRAIN_PER_CLASS else "test"].append(f"{rel} {c}")
    (base / "classes.txt").write_text("".join(f"{c} {c + 1:03d}.{'_'.join(k)}\n" for c, k in enumerate(classes)))
    for split, lines in rows.items():
        (base / f"{split}.txt").write_text("\n".join(lines) + "\n")
    names = [f"has_color::{c}" for c in COLOURS] + [f"has_pattern::{p}" for p in PATTERNS] + [f"has_shape::{s}" for s in SHAPES]
    values = np.array([[100.0 if n.split("::")[1] in k else 0.0 for n in names] for k in classes], np.float32)
    write_json(base / "attributes.json", {"names": names, "values": values.tolist()})
    write_json(base / "VERSION.json", {"generator": GENERATOR_VERSION, "seed": seed})


def _is_current(base: Path) -> bool:
    """True when ``base`` holds a complete demo made by this generator version."""
    try:
        return json.loads((base / "VERSION.json").read_text()).get("generator") == GENERATOR_VERSION
    except (OSError, ValueError):
        return False


def load(root: Path | str | None = None) -> ImageDataset:
    """The demo dataset under ``root`` (default: the default cache's ``CacheLayout.demo_data``), generated first if it
    is not there."""
    # imported here: the datasets package registers this module, so importing it first must not need that package
    from ..datasets.base import ClassAttributes, ImageDataset, Split, read_table

    root = Path(root).expanduser() if root else CacheLayout.resolve().demo_data
    if root.exists() and not root.is_dir():
        raise FewShotError(f"{root} is a file; give a folder for the demo dataset (or no --root, to use the cache).")
    base = root if (root / "VERSION.json").is_file() else root / "fewshot-demo"
    if not _is_current(base):
        if (
            root.exists()
            and any(not p.name.startswith(".fewshot-demo-") for p in root.iterdir())
            and not (root / "fewshot-demo").exists()
            and not (root / "VERSION.json").exists()
        ):
            raise FewShotError(f"{root} is not empty and holds no demo dataset; give an empty or new folder for the demo (or none).")
        base = generate(root)
    class_names = [f[1] for f in read_table(base / "classes.txt", 2)]
    splits = {}
    for split in ("train", "test"):
        table = read_table(base / f"{split}.txt", 2)
        splits[split] = Split([base / "images" / f[0] for f in table], np.array([int(f[1]) for f in table], np.int64))
    attrs = json.loads((base / "attributes.json").read_text())
    return ImageDataset(
        name=NAME,
        root=base,
        class_names=class_names,
        display_names=[n.split(".", 1)[1].replace("_", " ") for n in class_names],
        splits=splits,
        attributes=ClassAttributes(attrs["names"], np.array(attrs["values"], np.float32)),
        notes=["generated: shapes x colours x patterns, with nuisance variation"],
    )
