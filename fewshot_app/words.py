"""Plain words for the app: what the library says in command-line terms, said in the app's own terms.

The library's messages are written for the command line ("Point --root at the CUB folder"); a page shows
them through ``for_app``, which names the sidebar field or page that sets the same thing. Settings records
(dicts) are shown as sentences, never as JSON.
"""

from __future__ import annotations

import re
from typing import Any

# Each command-line option the library's messages may name (without its leading dashes), and where the app sets it.
SIDEBAR_FIELDS = {
    "root": "the sidebar's Dataset folder",
    "split-file": "the sidebar's Split file",
    "model": "the sidebar's CLIP model",
    "pretrained": "the sidebar's Weights",
    "device": "the sidebar's Device",
    "cache": "the sidebar's Cache folder",
    "seeds": "the sidebar's Seeds",
    "executor": "the sidebar's Executor",
    "ray-address": "the sidebar's Ray address",
    "descriptions": "the Train form's Descriptions",
}
_POINT_ROOT = re.compile(r"([Pp])oint --root at (.+?)(?=(?:, or\b|[.;]\s|[.;]?$))")
_DOWNLOAD = re.compile(r"`python -m fewshot_core download[^`]*`")
_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z-]*)")


def for_app(message: str) -> str:
    """A library message with its command-line advice replaced by where the app sets the same thing."""
    text = _POINT_ROOT.sub(lambda m: f"{'C' if m[1] == 'P' else 'c'}hoose {m[2]} as the Dataset folder in the sidebar", str(message))
    text = _DOWNLOAD.sub("the download on the Data page", text)
    return _OPTION.sub(lambda m: SIDEBAR_FIELDS.get(m[1], m[0]), text)


def count(n: int, word: str) -> str:
    """``1 set``, ``2 sets``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def description_settings(source: str, settings: dict[str, Any]) -> str:
    """A description set's settings in words ("model smollm2, temperature 0.7, at most 280 tokens, ...")."""
    if not isinstance(settings, dict):
        return "unknown"
    if "sentences" in settings:
        return f"sentences made from the class attributes (version {settings['sentences']})"
    if "captions_root" in settings:
        return f"human captions from {settings['captions_root'] or 'a captions folder'}"
    if "file_sha256" in settings:
        return f"an imported file (SHA-256 {str(settings['file_sha256'])[:12]}…)"
    parts = []
    if settings.get("model"):
        parts.append(f"model {settings['model']}")
    if settings.get("base_url"):
        parts.append(f"server {settings['base_url']}")
    if "temperature" in settings:
        parts.append(f"temperature {settings['temperature']}")
    if "max_tokens" in settings:
        parts.append(f"at most {settings['max_tokens']} tokens")
    if "samples" in settings:
        parts.append(count(int(settings["samples"]), "sample") + " per class")
    if settings.get("prompt"):
        parts.append(f'prompt "{settings["prompt"]}"')
    return ", ".join(parts) or "no settings recorded"


def unreadable_words(result: dict[str, Any]) -> str:
    """How many images a features job skipped, per split, in words ("no unreadable images")."""
    skipped = {k: int(v.get("unreadable", 0)) for k, v in result.items() if isinstance(v, dict) and "unreadable" in v}
    bad = {k: n for k, n in skipped.items() if n}
    if not bad:
        return "no unreadable images"
    return "unreadable images skipped: " + ", ".join(f"{count(n, 'image')} in {split}" for split, n in bad.items())
