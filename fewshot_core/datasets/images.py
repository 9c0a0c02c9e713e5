"""Robust image reading: RGB-convert what can be read, report what cannot."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageFile

from ..progress import ProgressFn, no_progress


def load_rgb(path: Path) -> Image.Image:
    """Open an image fully and return it as RGB.

    Grayscale, palette, CMYK and alpha images are converted (alpha composited on white, so a
    transparent background does not turn black). Raises ``OSError``/``ValueError`` if unreadable.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL's palette-transparency and EXIF warnings
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                canvas = Image.new("RGB", rgba.size, (255, 255, 255))
                canvas.paste(rgba, mask=rgba.getchannel("A"))
                return canvas
            return img.convert("RGB")


def is_readable(path: Path) -> bool:
    """True when ``load_rgb`` can decode the whole file."""
    try:
        load_rgb(path)
    except Exception:  # noqa: BLE001 - any decode failure means "unreadable"
        return False
    return True


def find_unreadable(paths: Sequence[Path], on_progress: ProgressFn = no_progress, workers: int = 4) -> list[Path]:
    """Decode every image (threads: PIL releases the GIL) and return the ones that fail."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must count as unreadable
    bad: list[Path] = []
    total = len(paths)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (path, ok) in enumerate(zip(paths, pool.map(is_readable, paths)), 1):
            if not ok:
                bad.append(path)
            if i % 64 == 0 or i == total:
                on_progress(i, total, f"checked {i}/{total} images")
    return bad
