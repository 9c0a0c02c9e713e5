"""Splitting an LLM completion into separate descriptions."""

from __future__ import annotations

import re

_BULLET = re.compile(r"^\s*(?:[-*•·–]+|\(?\d{1,3}[.):\]]|\(?[a-zA-Z][.)]\s)\s*")
_MARKUP = re.compile(r"[*_`#]+")
_REFUSAL = re.compile(r"^(?:i'?m sorry|i am sorry|sorry,|as an ai|i cannot|i can'?t|i am unable|i'm unable|i do not have|i don't have)", re.I)
_HEADING = re.compile(r"^(?:#+\s.*|[^.!?]{0,60}:\s*)$")  # "# Title", "Visual characteristics:"
_FILLER = re.compile(r"^(?:sure|certainly|of course|here (?:are|is)\b.*)[!.:,]?", re.I)


def clean_line(line: str) -> str:
    """Strip numbering, bullets and markdown from one line."""
    line = _BULLET.sub("", line.strip())
    return _MARKUP.sub("", line).strip().strip('"').strip()


def dedupe_lines(lines: list[str]) -> list[str]:
    """Lines in order, without repeats that differ only in case, punctuation or spacing."""
    out, seen = [], set()
    for line in lines:
        key = " ".join(re.sub(r"[^\w\s]", "", line.lower()).split())
        if key not in seen:
            seen.add(key)
            out.append(line)
    return out


def split_completion(text: str, min_words: int = 3) -> list[str]:
    """Descriptions from a completion: one per line, cleaned, de-duplicated, refusals and headings dropped."""
    lines = []
    for raw in (text or "").splitlines():
        if not raw.strip() or _HEADING.match(raw.strip()):
            continue
        line = clean_line(raw)
        if len(line.split()) < min_words or _REFUSAL.match(line) or _FILLER.match(line) and line.endswith(":"):
            continue
        lines.append(line)
    return dedupe_lines(lines)
