"""Robust image reading: RGB-convert what can be read, report what cannot.

An image with more pixels than ``max_image_pixels()`` is unreadable, refused from its header before anything is
decoded: a 17 KB PNG can declare 12000 x 12000 pixels and decode to 750 MB (a decompression bomb).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageFile

from ..errors import FewShotError
from ..progress import ProgressFn, no_progress

DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # PIL's own limit (about 0.25 GB as RGB); FEWSHOT_MAX_IMAGE_PIXELS overrides it
MAX_PIXELS_ENV = "FEWSHOT_MAX_IMAGE_PIXELS"


class ImageTooLarge(ValueError):
    """An image declares more pixels than the limit; it is refused before decoding."""


def max_image_pixels() -> int:
    """The pixel limit: ``$FEWSHOT_MAX_IMAGE_PIXELS`` (a whole number of pixels, at least 1), else PIL's default.

    Raises:
        FewShotError: the variable is set to something else.
    """
    text = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not text.isdigit() or len(text) > 15 or int(text) < 1:
        raise FewShotError(f"{MAX_PIXELS_ENV} must be a whole number of pixels, e.g. 200000000 (got {os.environ[MAX_PIXELS_ENV]!r}).")
    return int(text)


def open_checked(path: Path, limit: int | None = None) -> Image.Image:
    """Open ``path`` lazily (header only) and refuse it if it has more than ``limit`` pixels (default
    ``max_image_pixels()``). The caller decodes it (``load()``) and closes it.

    Raises:
        ImageTooLarge: over the limit; PIL's errors when the header is unreadable.
    """
    limit = max_image_pixels() if limit is None else limit
    if Image.MAX_IMAGE_PIXELS is not None and limit > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = limit  # PIL refuses above twice its own limit: a raised limit must reach PIL too
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # never silenced: above PIL's limit is refused
        try:
            img = Image.open(path)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
            raise ImageTooLarge(f"{path}: above the limit of {limit:,} pixels ({MAX_PIXELS_ENV}); PIL: {e}") from None
    width, height = img.size
    if width * height > limit:
        img.close()
        raise ImageTooLarge(f"{path}: {width} x {height} = {width * height:,} pixels, above the limit of {limit:,} ({MAX_PIXELS_ENV})")
    return img


def load_rgb(path: Path, limit: int | None = None) -> Image.Image:
    """Open an image fully and return it as RGB.

    Grayscale, palette, CMYK and alpha images are converted (alpha composited on white, so a
    transparent background does not turn black). Raises ``OSError``/``ValueError`` if unreadable,
    ``ImageTooLarge`` (a ValueError) above the pixel limit without decoding anything.
    """
    with open_checked(path, limit) as img, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL's palette-transparency and EXIF warnings (size was checked above)
        img.load()
        if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            canvas = Image.new("RGB", rgba.size, (255, 255, 255))
            canvas.paste(rgba, mask=rgba.getchannel("A"))
            return canvas
        return img.convert("RGB")


def is_readable(path: Path, limit: int | None = None) -> bool:
    """True when ``load_rgb`` can decode the whole file (and it is within the pixel limit)."""
    try:
        load_rgb(path, limit)
    except FewShotError:
        raise  # a bad setting, not a bad image
    except Exception:  # noqa: BLE001 - any decode failure means "unreadable"
        return False
    return True


def find_unreadable(paths: Sequence[Path], on_progress: ProgressFn = no_progress, workers: int = 4) -> list[Path]:
    """Decode every image (threads: PIL releases the GIL) and return the ones that fail or exceed the pixel limit."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must count as unreadable
    limit = max_image_pixels()  # read once: a bad setting fails here, not as every image "unreadable"
    bad: list[Path] = []
    total = len(paths)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (path, ok) in enumerate(zip(paths, pool.map(lambda p: is_readable(p, limit), paths)), 1):
            if not ok:
                bad.append(path)
            if i % 64 == 0 or i == total:
                on_progress(i, total, f"checked {i}/{total} images")
    return bad
