"""Matching class keys of published description files to a dataset's classes.

Files like CuPL's spell classes their own way ("Black-footed Albatross", "german shorthaired",
"001.Black_footed_Albatross"). A silent mismatch mislabels classes, so every key is matched by
normalised spelling (case, underscores, hyphens, numeric prefixes, apostrophes), then by word set
(word order); a key with no match or several, or two keys for one class, is reported, never assigned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PREFIX = re.compile(r"^\s*\d+\s*[._\-\s]\s*")  # "001." / "001_" / "12 "


def normalise(name: str) -> str:
    """``"001.Black_footed-Albatross's"`` -> ``"black footed albatross"``."""
    name = _PREFIX.sub("", name.strip())
    name = re.sub(r"'s\b|['’]", "", name.lower())
    return " ".join(re.sub(r"[_\-/,.()]+", " ", name).split())


def word_set(name: str) -> str:
    """Normalised words in sorted order: "albatross black footed"."""
    return " ".join(sorted(normalise(name).split()))


@dataclass
class MatchReport:
    """Which source key feeds which dataset class, and everything that did not match cleanly."""

    matched: dict[int, str] = field(default_factory=dict)  # class index -> source key
    unmatched_keys: list[str] = field(default_factory=list)
    ambiguous_keys: dict[str, list[int]] = field(default_factory=dict)  # key -> candidate classes
    classes_without_descriptions: list[int] = field(default_factory=list)


def match_class_names(keys: list[str], folder_names: list[str], display_names: list[str]) -> MatchReport:
    """Match ``keys`` to classes known by their folder and display names (same order, label order)."""
    by_form: dict[str, set[int]] = {}
    by_words: dict[str, set[int]] = {}
    for c, names in enumerate(zip(folder_names, display_names)):
        for n in names:
            by_form.setdefault(normalise(n), set()).add(c)
            by_words.setdefault(word_set(n), set()).add(c)
    report, claims = MatchReport(), {}
    for key in keys:
        candidates = by_form.get(normalise(key)) or by_words.get(word_set(key)) or set()
        if not candidates:
            report.unmatched_keys.append(key)
        elif len(candidates) > 1:
            report.ambiguous_keys[key] = sorted(candidates)
        else:
            claims.setdefault(next(iter(candidates)), []).append(key)
    for c, claimants in sorted(claims.items()):
        if len(claimants) == 1:
            report.matched[c] = claimants[0]
        else:  # two spellings of one class: which one is right is the user's call
            for k in claimants:
                report.ambiguous_keys[k] = [c]
    report.classes_without_descriptions = [c for c in range(len(folder_names)) if c not in report.matched]
    return report
