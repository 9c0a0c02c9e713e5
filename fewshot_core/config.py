"""Every setting of an experiment, with its default, in one place: the CLI and the app read theirs here.

Plain dataclasses and names only (no torch), so ``python -m fewshot_core --help`` answers at once.
The modules that use them re-export them: ``from fewshot_core.sweep import SweepConfig`` still works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import FewShotError
from .translations import NONE, TRANSLATIONS  # noqa: F401 (the registered translations' names, live; "none": image-only rows)

QFORMER_INPUTS = ("pooled", "tokens")  # the pooled text embedding, or CLIP's per-token states
LOSSES = ("paper", "paper-literal", "balanced", "infonce")
ADAPTER_INITS = ("zeroshot", "descriptions", "zeros")  # the classifier an adapter head starts from


@dataclass
class BackboneConfig:
    """Which CLIP to load and how to run it."""

    model: str = "ViT-B-32"  # any open_clip model name (open_clip.list_models()) or a package config
    pretrained: str = "openai"  # an open_clip tag, a local checkpoint file, or "" for random weights
    quick_gelu: bool | None = None  # None: on when the weights were trained with it (all OpenAI tags)
    device: str = "auto"  # auto = cuda, then mps, then cpu
    precision: str = "auto"  # auto = fp16 autocast on GPU, bf16 on CPUs with native bf16, else fp32
    weights_cache: str | None = None  # where open_clip keeps downloaded weights (None: HF default)


@dataclass
class QFormerConfig:
    """Architecture of the translator (named sizes live in ``qformer_configs/*.json``)."""

    hidden_size: int = 256  # width of queries and of the projected text tokens
    num_layers: int = 2  # Q-Former layers, each with self- and cross-attention
    num_heads: int = 4
    intermediate_size: int = 512  # feed-forward width
    num_queries: int = 4  # learned query tokens
    dropout: float = 0.1
    text_input: str = "pooled"  # "pooled": one token per text; "tokens": CLIP's per-token states
    skip: bool = True  # add a linear path from the pooled text, initialised to the identity (see README)


@dataclass
class QFormerTrainConfig:
    """How the translator is trained (recorded with every result)."""

    loss: str = "balanced"  # paper | paper-literal | balanced | infonce  (default chosen on evidence: README)
    mask_same_class: bool = False  # drop off-diagonal pairs of the same class from the negatives
    epochs: int = 20  # passes over max(#images, #descriptions) pairs
    max_steps: int = 120  # cap on optimizer steps (0: none); keeps the per-(shots, seed) Q-Formers cheap (bench_sweep.py)
    batch_size: int = 256
    lr: float = 5e-4  # chosen on validation over both synthetic modes (bench_qformer_losses.py)
    weight_decay: float = 0.01
    temperature: float = 0.05  # infonce only
    seed: int = 0  # initialisation and pairing; the sweep adds the unit's seed

    def validate(self) -> None:
        """Raise FewShotError on settings that cannot train (non-finite or out-of-range numbers included)."""
        if self.loss not in LOSSES:
            raise FewShotError(f"Unknown Q-Former loss {self.loss!r}; choose one of {', '.join(LOSSES)}.")
        if self.epochs < 1 or self.max_steps < 0 or self.batch_size < 1:
            raise FewShotError(f"Q-Former epochs must be >= 1 (got {self.epochs}), max_steps >= 0 and batch_size >= 1.")
        check_number("Q-Former learning rate", self.lr, positive=True)
        check_number("Q-Former weight decay", self.weight_decay)
        check_number("Q-Former temperature", self.temperature, positive=True)

    def total_steps(self, pairs_per_epoch: int) -> int:
        """Optimizer steps for ``pairs_per_epoch`` pairs: ``epochs`` passes, capped at ``max_steps``."""
        steps = self.epochs * math.ceil(pairs_per_epoch / self.batch_size)
        return min(steps, self.max_steps) if self.max_steps else steps


@dataclass
class AdapterConfig:
    """Adapter hyper-parameters (the paper's are "as in Hirano", unpublished). ``init``, ``lr`` and
    ``weight_decay`` were chosen together on validation accuracy over the demo and two CUB-sized synthetic
    sets (``benchmarks/bench_adapter_head.py``; README)."""

    lr: float = 1e-3  # AdamW, cosine-annealed to 0 (with init and weight_decay: chosen on validation, bench_adapter_head.py)
    steps: int = 150  # optimizer steps (the same for every head trained together)
    epochs: float | None = None  # if set, steps = ceil(epochs * largest training set / batch_size)
    batch_size: int = 64  # samples per head per step, drawn with replacement
    weight_decay: float = 10.0  # decoupled decay of (W - W_init): pulls the head toward its initialisation
    normalize: bool = True  # L2-normalise every feature (real and translated) before the head
    init: str = "descriptions"  # the classifier a head starts from (chosen on validation: bench_adapter_head.py): "zeroshot" (class-name prompts), "descriptions" (each class's mean description embedding), "zeros"
    logit_scale: float = 30.0  # logits = scale * <w_c, x> + b_c
    seed: int = 0

    def validate(self) -> None:
        """Raise FewShotError on settings that cannot train: a learning rate of inf, nan or -1 would store
        chance-level numbers as a normal run."""
        check_number("adapter learning rate (--adapter-lr)", self.lr, positive=True)
        check_number("adapter weight decay (--adapter-weight-decay)", self.weight_decay)
        check_number("adapter logit scale", self.logit_scale, positive=True)
        if self.epochs is not None:
            check_number("adapter epochs", self.epochs, positive=True)
        for what, value, least in (
            ("adapter steps (--adapter-steps)", self.steps, 0),
            ("adapter batch size (--adapter-batch-size)", self.batch_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise FewShotError(f"The {what} must be a whole number of at least {least} (got {value!r}).")

    def num_steps(self, largest_set: int) -> int:
        if self.epochs is None:
            return self.steps
        return max(1, math.ceil(self.epochs * largest_set / self.batch_size))


METHODS = ("adapter", "zeroshot", "description-zeroshot", "linear-probe", "tip-adapter", "tip-adapter-f", "gda", "lp++")
OPT_IN_METHODS = ("tip-adapter-f",)  # run only when asked (--methods): it costs more per unit than the rest of the unit
DEFAULT_METHODS = tuple(m for m in METHODS if m not in OPT_IN_METHODS)
PROTOCOLS = ("support", "train-split")
VAL_AS_SHOTS = "k"  # SweepConfig.val_per_class: k-shot validation (as many validation images as support images)


@dataclass
class SweepConfig:
    """One sweep: what to vary, how to select, and the settings of each part."""

    shots: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 10, 15])
    text_counts: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 10, 20, 30])  # per class; 0 = image only
    seeds: list[int] = field(default_factory=lambda: list(range(20)))  # 20: a paired interval of about +-1.5 points at 1 shot (5 gave +-3.5)
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    translations: list[str] = field(default_factory=lambda: list(TRANSLATIONS))  # how texts become image features (translations.py)
    protocol: str = "support"  # which images the translators learn from: "support" (k-shot only) or "train-split" (paper)
    val_per_class: int | str = 4  # validation images per class, drawn once from the training split; "k": as many as the shots (k-shot validation)
    qformer_size: str = "tiny"  # a name from qformer_configs/; tiny: within 0.4 validation points of small (1 and 5 shots, seed 0), ~4x faster
    qformer_text_input: str = "pooled"  # "pooled" text embedding or CLIP's per-token "tokens" (bundle must have them)
    qformer_train: QFormerTrainConfig = field(default_factory=QFormerTrainConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    device: str = "auto"

    def val_count(self, shots: int) -> int:
        """Validation images per class for a shot count (``val_per_class``, or the shots under "k")."""
        return shots if self.val_per_class == VAL_AS_SHOTS else int(self.val_per_class)

    def label_budget(self, shots: int) -> int:
        """Labelled images per class a unit may use: the support set plus validation."""
        return shots + self.val_count(shots)

    def validate(self) -> None:
        """Raise FewShotError on settings that cannot run."""
        if self.protocol not in PROTOCOLS:
            raise FewShotError(f"Unknown protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}.")
        unknown = set(self.methods) - set(METHODS)
        if unknown:
            raise FewShotError(f"Unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}.")
        unknown = set(self.translations) - set(TRANSLATIONS)
        if unknown:
            raise FewShotError(f"Unknown translations {sorted(unknown)}; choose from {', '.join(TRANSLATIONS)}.")
        if self.qformer_text_input not in QFORMER_INPUTS:
            raise FewShotError(f"qformer_text_input must be 'pooled' or 'tokens', not {self.qformer_text_input!r}.")
        if not self.shots or min(self.shots) < 1 or not self.seeds or min(self.text_counts, default=0) < 0:
            raise FewShotError("Shots must be >= 1, text counts >= 0, and at least one seed is needed.")
        if self.val_per_class != VAL_AS_SHOTS and not (isinstance(self.val_per_class, int) and self.val_per_class >= 1):
            raise FewShotError(
                f"val_per_class must be a whole number >= 1 or 'k' (as many as the shots), not {self.val_per_class!r}: "
                "text counts and hyper-parameters are chosen on validation images."
            )
        if max(self.text_counts, default=0) > 0 and "adapter" in self.methods and not self.translations:
            raise FewShotError(f"Text counts above 0 need at least one translation ({', '.join(TRANSLATIONS)}).")
        if self.adapter.init not in ADAPTER_INITS:
            raise FewShotError(f"Unknown adapter init {self.adapter.init!r}; choose one of {', '.join(ADAPTER_INITS)}.")
        self.qformer_train.validate()
        self.adapter.validate()


def check_number(what: str, value: Any, positive: bool = False) -> None:
    """Refuse a hyper-parameter that is not a finite number, is negative, or (``positive``) is 0."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        need = "a finite number above 0" if positive else "a finite number of at least 0"
        raise FewShotError(f"The {what} must be {need} (got {value!r}).")
