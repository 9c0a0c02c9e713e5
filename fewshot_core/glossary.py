"""The lab's words, defined once: what the app's tooltips and its glossary say (the README says more, under "The method")."""

from __future__ import annotations

GLOSSARY = {
    "support protocol": "The translators (Q-Former, mean shift) learn only from the k labelled support images per class of each "
    "shot count and seed: k shots really means k labels per class. The default.",
    "train-split protocol": "The translators learn from every labelled training image except validation (as the paper most likely "
    "did, about 26 per class on CUB), at every shot count: not a few-shot result; every number made so says how many labels it saw.",
    "raw translation": "Description embeddings used unchanged as extra training samples for the adapter (text features are not "
    "image features: the modality gap stays).",
    "mean-shift translation": "Each description embedding minus the mean description embedding plus the mean image embedding of the "
    "images the protocol allows, re-normalised: closes the modality gap with no training.",
    "Q-Former translation": "The method: a small network trained on (image, description of its class) pairs turns description "
    "embeddings into pseudo image features, which train the adapter beside the real images.",
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


def glossary_markdown() -> str:
    """The glossary as a Markdown list, terms in bold."""
    return "\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY.items())


def define(*terms: str) -> str:
    """Tooltip text for a widget: the named terms' definitions, one paragraph each."""
    return "\n\n".join(f"**{t}**: {GLOSSARY[t]}" for t in terms)
