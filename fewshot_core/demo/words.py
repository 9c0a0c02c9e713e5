"""The words the offline demo talks in: synonyms of its attribute names, shared by the demo CLIP's
training captions and the demo's ``attributes`` descriptions.

The class names use terms ("striped", "checkered", "hexagon") that the demo CLIP's captions use only
rarely, as web captions rarely use a fine-grained class's official name; its captions mostly say
"stripy", "chequered", "six-sided". So zero-shot prompts built from class names are imperfect, while
descriptions written in everyday words carry what the class name does not.
"""

from __future__ import annotations

import numpy as np

# Everyday words for each attribute value; none contains the canonical word as a token.
SYNONYMS: dict[str, list[str]] = {
    "red": ["crimson", "scarlet"],
    "orange": ["tangerine", "amber"],
    "yellow": ["golden", "lemon"],
    "green": ["emerald", "leafy green"],
    "blue": ["navy", "cobalt"],
    "purple": ["violet", "lilac"],
    "solid": ["plain", "unpatterned", "single-tone"],
    "striped": ["stripy", "banded", "candy-stripe"],
    "dotted": ["spotted", "polka-dot", "speckled"],
    "checkered": ["chequered", "plaid", "gingham"],
    "circle": ["disc", "round shape"],
    "square": ["box shape", "four-cornered block"],
    "triangle": ["three-sided shape", "wedge"],
    "diamond": ["rhombus", "lozenge"],
    "star": ["five-pointed shape", "spiky shape"],
    "hexagon": ["six-sided shape", "honeycomb cell"],
    "cross": ["plus sign", "plus shape"],
    "ring": ["donut", "hoop"],
}
# Class-name words that the demo CLIP's captions use only with probability ``rare_term_p``.
RARE_TERMS = frozenset({"solid", "striped", "dotted", "checkered", "hexagon", "diamond"})
# What each pattern looks like, in words (for descriptions).
PATTERN_LOOKS = {
    "solid": "one flat colour with no markings",
    "striped": "diagonal bands across it",
    "dotted": "small round spots all over it",
    "checkered": "a grid of small squares in two tones",
}
SHAPE_LOOKS = {  # what each shape's outline has
    "circle": "a perfectly round edge",
    "square": "four equal sides and square corners",
    "triangle": "three straight sides",
    "diamond": "four slanted sides, taller than wide",
    "star": "five sharp points",
    "hexagon": "six equal sides",
    "cross": "four equal arms, like a plus sign",
    "ring": "a round hole in the middle",
}
# Neighbouring values a description can contrast with.
SIMILAR = {
    "red": "orange",
    "orange": "red",
    "yellow": "orange",
    "green": "blue",
    "blue": "purple",
    "purple": "blue",
    "solid": "striped",
    "striped": "checkered",
    "dotted": "checkered",
    "checkered": "dotted",
    "circle": "ring",
    "ring": "circle",
    "square": "diamond",
    "diamond": "square",
    "triangle": "star",
    "star": "cross",
    "hexagon": "circle",
    "cross": "star",
}


def word_for(value: str, rng: np.random.Generator, synonym_p: float, rare_term_p: float) -> str:
    """The canonical word for an attribute value, or an everyday synonym.

    Rare terms keep their canonical word with probability ``rare_term_p``; the others with ``1 - synonym_p``.
    """
    keep = rare_term_p if value in RARE_TERMS else 1.0 - synonym_p
    if rng.random() < keep:
        return value
    options = SYNONYMS[value]
    return options[rng.integers(len(options))]


def class_descriptions(colour: str, pattern: str, shape: str, seed: int = 0) -> list[str]:
    """At least 10 varied sentences about one demo class, none naming the whole class.

    Paraphrases, single attributes, a comparison with a neighbouring class, and some vague ones; the
    attribute words are everyday synonyms as often as the class-name words.
    """
    rng = np.random.default_rng([seed, 17, *(ord(ch) for ch in f"{colour}{pattern}{shape}")])
    (c, c2), (p, p2), (s, s2) = [[SYNONYMS[v][i] for i in rng.permutation(len(SYNONYMS[v]))[:2]] for v in (colour, pattern, shape)]
    look = SHAPE_LOOKS[shape]
    sentences = [
        f"A {c} {s} with {PATTERN_LOOKS[pattern]}.",
        f"A {p} {s}, coloured {colour}.",
        f"This shape has {look}, and its fill is {c2}.",
        f"Its surface is {p2}: {PATTERN_LOOKS[pattern]}.",
        f"The outline has {look}; think of a {s2}.",
        f"Mostly {colour} and {p}, on a pale noisy background.",
        f"Like the {SIMILAR[colour]} version, but {c} instead.",
        f"Similar to a {p} {SIMILAR[shape]}, but with {look}.",
        f"Not {SIMILAR[pattern]}: the pattern is {p2}.",
        f"A {c2} thing with {look}.",
        f"A small {s} drawn in {c}.",
        "A simple coloured shape, slightly blurred, somewhere in the picture.",
        f"Something {p} and {c2}.",
    ]
    return sentences
