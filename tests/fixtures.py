"""Tiny datasets in the official layouts, generated on the fly (no downloads)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CUB_CLASSES = ["001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"]
PETS_CLASSES = [("Abyssinian", 1), ("american_bulldog", 2), ("Bengal", 1), ("german_shorthaired", 2)]


def write_image(path: Path, seed: int, size: int = 40, mode: str = "RGB", fmt: str = "JPEG") -> None:
    """A small random image, colour-coded by seed, in the given mode and format."""
    rng = np.random.default_rng(seed)
    arr = (rng.random((size, size, 3)) * 64 + rng.integers(0, 192, 3)).astype(np.uint8)
    img = Image.fromarray(arr).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)


def write_truncated(path: Path) -> None:
    """A JPEG cut in half: unreadable."""
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(buf, format="JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def make_cub(root: Path, per_class: int = 6, train_per_class: int = 4, attributes: bool = True) -> Path:
    """A CUB_200_2011 folder (plus attributes.txt beside it, as in the archive); returns ``root``."""
    base = root / "CUB_200_2011"
    images, labels, split = [], [], []
    for c, name in enumerate(CUB_CLASSES):
        for j in range(per_class):
            rel = f"{name}/{name.split('.', 1)[1]}_{j:04d}_{c}.jpg"
            write_image(base / "images" / rel, seed=100 * c + j)
            images.append(rel)
            labels.append(c + 1)
            split.append(1 if j < train_per_class else 0)
    ids = range(1, len(images) + 1)
    (base / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in zip(ids, images)))
    (base / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, c in zip(ids, labels)))
    (base / "train_test_split.txt").write_text("".join(f"{i} {s}\n" for i, s in zip(ids, split)))
    (base / "classes.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(CUB_CLASSES, 1)))
    if attributes:
        names = ["has_bill_shape::hooked_seabird", "has_wing_color::black", "has_crown_color::white"]
        (root / "attributes.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(names, 1)))
        values = np.array([[80.0, 10.5, 0.0], [5.0, 70.0, 33.3], [60.0, 90.0, 12.0]])
        (base / "attributes").mkdir(exist_ok=True)
        np.savetxt(base / "attributes" / "class_attribute_labels_continuous.txt", values, fmt="%.6f")
    return root


def make_pets(root: Path, per_class: int = 6, odd_images: bool = True) -> Path:
    """An ``oxford-iiit-pet/`` folder in the official layout; returns its parent ``root``.

    With ``odd_images``, the first images are grayscale, CMYK, RGBA-PNG-named-.jpg and truncated.
    """
    base = root / "oxford-iiit-pet"
    rows = []
    for c, (name, species) in enumerate(PETS_CLASSES, 1):
        for j in range(1, per_class + 1):
            image_id = f"{name}_{j}"
            write_image(base / "images" / f"{image_id}.jpg", seed=10 * c + j)
            rows.append((image_id, c, species, j))
    if odd_images:
        imgs = base / "images"
        write_image(imgs / f"{rows[0][0]}.jpg", 1, mode="L")
        write_image(imgs / f"{rows[1][0]}.jpg", 2, mode="CMYK")
        write_image(imgs / f"{rows[2][0]}.jpg", 3, mode="RGBA", fmt="PNG")
        write_truncated(imgs / f"{rows[3][0]}.jpg")
    header = "#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n#BREED ID: 1-25:Cat 1:12:Dog\n"
    line = lambda r: f"{r[0]} {r[1]} {r[2]} {r[3]}\n"  # noqa: E731
    ann = base / "annotations"
    ann.mkdir(parents=True)
    (ann / "list.txt").write_text(header + "".join(map(line, rows)))
    (ann / "trainval.txt").write_text("".join(line(r) for r in rows if r[3] % 2 == 0))
    (ann / "test.txt").write_text("".join(line(r) for r in rows if r[3] % 2 == 1))
    return root
