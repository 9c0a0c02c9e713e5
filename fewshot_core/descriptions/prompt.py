"""The LLM prompt: the paper's by default, editable, validated before any request is sent."""

from __future__ import annotations

import string

from ..errors import FewShotError

DEFAULT_PROMPT = "Describe the visual characteristics of a {class_name} in 10 lines."
PLACEHOLDERS = ("class_name", "dataset")  # {dataset} is optional: "bird", "pet", ...
DATASET_NOUNS = {
    "cub": "bird",
    "pets": "pet",
    "demo": "shape",
    "flowers102": "flower",
    "fgvc-aircraft": "aircraft",
    "food101": "food",
    "dtd": "texture",
    "stanford-cars": "car",
}


def validate_prompt(prompt: str) -> str:
    """Return the prompt if it has ``{class_name}`` and no unknown placeholders; else raise."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(prompt) if name is not None}
    except ValueError as e:
        raise FewShotError(f"The prompt has an unbalanced brace ({e}); write literal braces as {{{{ and }}}}.") from e
    if "class_name" not in fields:
        raise FewShotError("The prompt must contain {class_name}, where each class's name goes.")
    unknown = fields - set(PLACEHOLDERS)
    if unknown:
        raise FewShotError(f"Unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}; use only {{class_name}} and {{dataset}}.")
    return prompt


def render_prompt(prompt: str, class_name: str, dataset: str = "") -> str:
    """The prompt for one class."""
    return validate_prompt(prompt).format(class_name=class_name, dataset=DATASET_NOUNS.get(dataset, "object"))
