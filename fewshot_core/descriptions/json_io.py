"""Import of ``{"class name": ["sentence", ...]}`` description files (CuPL's format)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FewShotError
from .matching import MatchReport, match_class_names


def load_description_json(path: Path | str) -> dict[str, list[str]]:
    """Read and validate a description file; clear errors for anything malformed."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise FewShotError(f"Description file {path} does not exist.") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FewShotError(f'{path} is not valid JSON ({e}). Expected {{"class name": ["sentence", ...]}}.') from e
    if not isinstance(data, dict) or not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in data.values()):
        raise FewShotError(f'{path} must map each class name to a list of sentences: {{"class name": ["sentence", ...]}}.')
    return {k: [s.strip() for s in v if s.strip()] for k, v in data.items()}


def descriptions_for_classes(
    mapping: dict[str, list[str]], folder_names: list[str], display_names: list[str]
) -> tuple[list[str], np.ndarray, MatchReport]:
    """Flatten matched descriptions into (texts, labels) in class order, with the match report."""
    report = match_class_names(list(mapping), folder_names, display_names)
    texts, labels = [], []
    for c in sorted(report.matched):
        for sentence in mapping[report.matched[c]]:
            texts.append(sentence)
            labels.append(c)
    return texts, np.array(labels, dtype=np.int64), report
