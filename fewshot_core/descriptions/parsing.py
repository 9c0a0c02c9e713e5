"""Splitting an LLM completion into separate descriptions.

Chat models answer "in 10 lines" with numbered lines, but small local ones (SmolLM2-135M) often write one
paragraph: a line holding several sentences is split into its sentences (CLIP reads 77 tokens of each
description, so a paragraph would be cut short anyway). Lead-ins ("Here are 10 lines:", "The visual
characteristics of an X can be observed through the following lines:"), headings, refusals and repeats
are dropped.
"""

from __future__ import annotations

import re

_BULLET = re.compile(r"^\s*(?:[-*•·–]+|\(?\d{1,3}[.):\]]|\(?[a-zA-Z][.)]\s)\s*")
_MARKUP = re.compile(r"[*_`#]+")
_REFUSAL = re.compile(r"^(?:i'?m sorry|i am sorry|sorry,|as an ai|i cannot|i can'?t|i am unable|i'm unable|i do not have|i don't have)", re.I)
_HEADING = re.compile(r"^(?:#+\s.*|[^.!?]{0,60}:\s*)$")  # "# Title", "Visual characteristics:"
# A lead-in to the list, not a description: it ends with a colon, opens with a pleasantry or "here are", or
# talks about the lines themselves ("the following lines", "in 10 lines", "as follows").
_PREAMBLE = re.compile(
    r"(?::\s*$"
    r"|^(?:sure|certainly|of course|absolutely|okay|ok|great)\b"
    r"|^(?:here|below)\s+(?:are|is)\b"
    r"|\b(?:the following|as follows|following (?:lines|list|points|characteristics))\b"
    r"|\bin \d+ (?:lines|sentences|points)\b)",
    re.I,
)
# A sentence ends at . ! or ? (and a closing quote), before whitespace and a capital, digit or opening quote;
# not after common abbreviations ("approx. 4 feet", "e.g. The").
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"”']))(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bapprox\.)(?<!\bvs\.)(?<!\bSt\.)(?<!\bMr\.)(?<!\bDr\.)\s+(?=[A-Z0-9\"“(])"
)


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


def split_sentences(line: str) -> list[str]:
    """The sentences of one line (a line that is one sentence comes back whole)."""
    return [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]


def is_preamble(line: str) -> bool:
    """Whether a cleaned line introduces the list instead of describing anything."""
    return bool(_PREAMBLE.search(line))


def split_completion(text: str, min_words: int = 3) -> list[str]:
    """Descriptions from a completion: one per line (a paragraph: one per sentence), cleaned, de-duplicated;
    lead-ins, headings and refusals dropped."""
    lines = []
    for raw in (text or "").splitlines():
        if not raw.strip() or _HEADING.match(raw.strip()):
            continue
        for sentence in split_sentences(clean_line(raw)):
            if len(sentence) > 1 and sentence[0] == sentence[-1] == '"':
                sentence = sentence[1:-1].strip()  # a quoted sentence; a quote inside one stays
            if len(sentence.split()) < min_words or _REFUSAL.match(sentence) or is_preamble(sentence):
                continue
            lines.append(sentence)
    return dedupe_lines(lines)
