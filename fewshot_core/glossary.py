"""The lab's words, defined once: what the app's tooltips and its glossary say (the README says more, under "The method").
Each translation's entry comes from its registry entry (``translations.py``)."""

from __future__ import annotations

from .translations import TRANSLATION_REGISTRY

GLOSSARY = {
    "support protocol": "The translators (Q-Former, mean shift) learn only from the k labelled support images per class of each "
    "shot count and seed: k shots really means k labels per class. The default.",
    "train-split protocol": "The translators learn from every labelled training image except validation (as the paper most likely "
    "did, about 26 per class on CUB), at every shot count: not a few-shot result; every number made so says how many labels it saw.",
    "head": "The classifier an adapter starts from: the class-name prompts (zeroshot) or the mean embedding of each class's "
    "descriptions (descriptions). A translation is always compared with image only on the same head.",
    "adapter": "A one-layer linear classifier on frozen CLIP image features, trained on the support images (plus translated texts).",
    "image only": "The adapter trained on the support images alone (0 texts): the reference every gain is measured against.",
    "strongest baseline": "At each shot count, the method without translated text with the highest mean test accuracy: image only "
    "on either head, linear probe, Tip-Adapter(-F), GDA or LP++.",
    "unit": "One (shot count, seed) pair of a sweep: every method trained and tested on one support set. A run has one unit per "
    "shot count and seed, plus one for zero-shot; a partial run has fewer.",
    "seeds": "Repeats with different random support sets (and validation sets, initialisations). Numbers are mean ± sample SD over "
    "seeds; gains are paired by seed.",
    "texts (text count)": "Descriptions per class added as translated features. Each seed chooses its own count on its validation "
    "set; the table shows the median (and range) of those choices.",
    "oracle": "The text count chosen on the test set (one count for all seeds), as the paper did: optimistic, shown only on request.",
    "label budget": "Labelled images per class a number used: k support images plus the validation images that chose text counts "
    "and hyper-parameters (4, or k under k-shot validation).",
    "gain [95% CI]": "Per seed, the translation's test accuracy minus image only's (same support set, same head), in points: mean "
    "and 95% Student-t interval over seeds. No interval with one seed.",
    "Holm": "Holm's step-down correction of the p-values of all cells of a table at once: a * (gain) or † (harm) means "
    "Holm-adjusted p < 0.05, so 20 cells do not give a false 'helps' by chance.",
    "executor": "Where a sweep's units run: local (this machine, one process) or ray (Ray tasks on a local instance or a cluster).",
    "run": "One sweep's folder: its settings (config.json), one file per finished unit, and the results table. Failed, cancelled "
    "and partial runs keep what finished; training again with the same settings resumes them.",
}


def glossary() -> dict[str, str]:
    """Every term and its definition: the protocols, each registered translation ("<label> translation"), the rest."""
    terms = list(GLOSSARY.items())
    translations = [(f"{t.label} translation", t.explanation) for t in TRANSLATION_REGISTRY.values() if t.explanation]
    return dict(terms[:2] + translations + terms[2:])


def glossary_markdown() -> str:
    """The glossary as a Markdown list, terms in bold."""
    return "\n".join(f"- **{term}**: {text}" for term, text in glossary().items())


def define(*terms: str) -> str:
    """Tooltip text for a widget: the named terms' definitions, one paragraph each. A translation's name ("qformer")
    stands for its entry."""
    words = glossary()
    named = [f"{TRANSLATION_REGISTRY[t].label} translation" if t in TRANSLATION_REGISTRY else t for t in terms]
    return "\n\n".join(f"**{t}**: {words[t]}" for t in named)
