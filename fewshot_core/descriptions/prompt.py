"""The LLM prompt: the paper's by default, editable, validated before any request is sent."""

from __future__ import annotations

import re
import string

from ..datasets import dataset_info, list_datasets
from ..errors import FewShotError

DEFAULT_PROMPT = "Describe the visual characteristics of a {class_name} in 10 lines."
PLACEHOLDERS = ("class_name", "dataset")  # {dataset} is optional: the dataset's noun (DatasetInfo.noun: "bird", "pet", ...)


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
    """The prompt for one class; "a" before a placeholder becomes "an" where the inserted word needs it
    ("a {class_name}" with "orange striped circle" reads "an orange striped circle")."""
    values = {"class_name": class_name, "dataset": dataset_noun(dataset)}
    fitted = re.sub(r"\b([Aa]n?) \{(class_name|dataset)\}", lambda m: f"{article(values[m[2]], m[1][0])} {{{m[2]}}}", validate_prompt(prompt))
    return fitted.format(**values)


def dataset_noun(dataset: str) -> str:
    """What {dataset} becomes for a dataset name: its registry entry's noun ("object" for an unknown or no name)."""
    return dataset_info(dataset).noun if dataset in list_datasets() else "object"


# Words that start with a vowel letter but a consonant sound ("a unicorn", "a one-eyed"), and the reverse ("an hour").
_CONSONANT_SOUND = re.compile(r"^(?:u[bcdfgjklmnpqrstvz][aeiou]|uni|use|usu|ute|eu|ewe|one\b|one-|once|ouija)", re.I)
_SILENT_H = re.compile(r"^(?:hour|honest|honou?r|heir)", re.I)


def article(word: str, first: str = "a") -> str:
    """ "a" or "an" for the word that follows (by its sound, from the usual spelling rules), keeping ``first``'s case.

    An acronym is read letter by letter ("an FBI agent", "a UFO").
    """
    head = word.split(" ")[0].split("-")[0] if word else ""
    if len(head) > 1 and head.isupper() and head.isalpha():
        an = head[0] in "AEFHILMNORSX" and not head.startswith("U")
    else:
        an = bool(head) and (head[0].lower() in "aeiou" and not _CONSONANT_SOUND.match(head) or bool(_SILENT_H.match(head)))
    text = "an" if an else "a"
    return text.capitalize() if first.isupper() else text


_LINES = re.compile(
    r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty)\s+(?:short\s+|brief\s+|separate\s+)?(?:lines|sentences|bullet points|descriptions)\b",
    re.I,
)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_NUMBERS |= {"twelve": 12, "fifteen": 15, "twenty": 20}


def requested_lines(prompt: str) -> int | None:
    """How many lines a prompt asks for ("... in 10 lines" -> 10), or None when it names no count."""
    m = _LINES.search(prompt)
    if m is None:
        return None
    word = m[1].lower()
    return int(word) if word.isdigit() else _NUMBERS[word]


# SmolLM2-135M-Instruct on the paper's prompt: about TOKENS_PER_LINE completion tokens per description line
# (numbering and the line break included), after a lead-in of up to PREAMBLE_TOKENS (measured: README, "Class descriptions").
TOKENS_PER_LINE = 24
PREAMBLE_TOKENS = 40


def max_tokens_for(prompt: str, default_lines: int = 10) -> int:
    """A completion budget that fits the lines the prompt asks for (``default_lines`` when it names none)."""
    lines = requested_lines(prompt) or default_lines
    return PREAMBLE_TOKENS + TOKENS_PER_LINE * lines
