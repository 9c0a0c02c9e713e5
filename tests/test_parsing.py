"""Parsing completions into descriptions (on real SmolLM2 outputs), the prompt's articles and the token budget."""

from fewshot_core.descriptions.parsing import split_completion
from fewshot_core.descriptions.prompt import DEFAULT_PROMPT, render_prompt

# What SmolLM2-135M-Instruct answered "Describe the visual characteristics of a(n) ... in 10 lines." (greedy and
# at temperature 0.7, on this CPU), shortened, and the lead-ins chat models write.
SMOLLM2_PARAGRAPH = (
    "A red dotted star is a celestial object that has a unique appearance that is defined by its circular shape, often adorned "
    "with a bright red halo. This object appears to dance across the night sky, making it a captivating sight to observe. The "
    "surrounding halo is a ring-like pattern that is a result of the alignment of the stars with the Milky Way galaxy."
)
SMOLLM2_LOOP = (
    "Laysan albatross are a majestic seabird with a distinctive appearance. They have a white patch on their forehead, which is a "
    "distinguishing feature of the Laysan albatross. They have a white patch on their forehead, which is a distinguishing feature of "
    "the Laysan albatross. They have a white patch on their forehead, which is a"
)
SMOLLM2_ECHO = "A orange striped circle in 10 lines is a classic example of a geometric shape known as a circle of light. The circle of light is composed of concentric rings."
SMOLLM2_LIST = """1. A **circle**: A circle is a shape that is symmetrical about its diameter. A circle is also a solid shape that has no flat edges.

2. **Satin**: The most commonly used and recognizable pattern of a circle is called a **satin**."""
LEAD_INS = """The visual characteristics of an orange striped circle can be observed through the following lines:
1. It is round, with smooth edges.
Here are 10 lines describing the Laysan Albatross.
2. Broad orange and white bands cross it diagonally.
Certainly! Below are the visual characteristics of the Laysan Albatross
The key features are as follows
3. The "striped" look is strongest near the rim."""


def test_a_paragraph_becomes_one_description_per_sentence():
    assert split_completion(SMOLLM2_PARAGRAPH) == [
        "A red dotted star is a celestial object that has a unique appearance that is defined by its circular shape, often adorned with a bright red halo.",
        "This object appears to dance across the night sky, making it a captivating sight to observe.",
        "The surrounding halo is a ring-like pattern that is a result of the alignment of the stars with the Milky Way galaxy.",
    ]
    assert split_completion(SMOLLM2_LOOP) == [  # the repeats of a loop are dropped; its cut-off tail is a fragment kept as it is
        "Laysan albatross are a majestic seabird with a distinctive appearance.",
        "They have a white patch on their forehead, which is a distinguishing feature of the Laysan albatross.",
        "They have a white patch on their forehead, which is a",
    ]
    assert split_completion(SMOLLM2_LIST) == [
        "A circle: A circle is a shape that is symmetrical about its diameter.",
        "A circle is also a solid shape that has no flat edges.",
        "Satin: The most commonly used and recognizable pattern of a circle is called a satin.",
    ]
    assert split_completion('Its wingspan is approx. 2 m across. It has e.g. Long wings. The bill is called "pink." Then it flies off!') == [
        "Its wingspan is approx. 2 m across.",
        "It has e.g. Long wings.",
        'The bill is called "pink."',
        "Then it flies off!",
    ]


def test_lead_ins_and_prompt_echoes_are_dropped():
    assert split_completion(LEAD_INS) == [
        "It is round, with smooth edges.",
        "Broad orange and white bands cross it diagonally.",
        'The "striped" look is strongest near the rim.',
    ]
    assert split_completion(SMOLLM2_ECHO) == ["The circle of light is composed of concentric rings."]


def test_the_article_fits_the_class_name():
    assert (
        render_prompt(DEFAULT_PROMPT, "orange striped circle", "demo")
        == "Describe the visual characteristics of an orange striped circle in 10 lines."
    )
    assert render_prompt(DEFAULT_PROMPT, "Laysan Albatross") == "Describe the visual characteristics of a Laysan Albatross in 10 lines."
    assert render_prompt("A {class_name}, an {dataset}.", "Egyptian Mau", "fgvc-aircraft") == "An Egyptian Mau, an aircraft."
    assert render_prompt("Describe an {class_name}.", "Sooty Albatross", "cub") == "Describe a Sooty Albatross."
    assert render_prompt("Draw a {class_name}.", "hourglass") == "Draw an hourglass."
    from fewshot_core.descriptions.prompt import article

    words = ["unicorn", "European robin", "one-eyed cat", "umbrella", "FBI van", "UFO", "yellow warbler", "honest face", "Ibis"]
    assert [article(w) for w in words] == ["a", "a", "a", "an", "an", "a", "a", "an", "an"]


def test_the_token_budget_fits_the_lines_asked_for():
    from fewshot_core.descriptions.prompt import PREAMBLE_TOKENS, TOKENS_PER_LINE, max_tokens_for, requested_lines

    assert (TOKENS_PER_LINE, PREAMBLE_TOKENS) == (24, 40)  # measured on SmolLM2 (README): about 22 tokens a sentence
    assert requested_lines(DEFAULT_PROMPT) == 10 and requested_lines("List five short sentences about a {class_name}.") == 5
    assert requested_lines("Describe a {class_name}.") is None
    assert max_tokens_for(DEFAULT_PROMPT) == 40 + 24 * 10
    assert max_tokens_for("Describe a {class_name} in 3 lines.") == 40 + 24 * 3 and max_tokens_for("Describe a {class_name}.") == 280
