"""Baselines on the same cached features and splits, each tuned on validation with the edge rule.

- ``common``: zero-shot CLIP, description zero-shot (CuPL) class embeddings, prompt templates, ``FittedBaseline``.
- ``grid``: the validation search every tuned baseline uses (``search_grid``: extends a grid whose edge is chosen).
- ``probe``: the linear probe (logistic regression, C on validation).
- ``tip``: Tip-Adapter (alpha, beta on validation).
- ``tip_f``: Tip-Adapter-F, its cache keys fine-tuned (the epoch, then alpha and beta, on validation).
- ``gda``: GDA, Gaussian discriminant analysis ensembled with zero-shot CLIP (Wang et al., ICLR 2024).
- ``lpp``: LP++, the text-blended linear probe (Huang et al., CVPR 2024).
"""

from .common import (
    FittedBaseline,
    accuracy,
    description_class_embeddings,
    templates_for,
    zero_shot_predict,
)
from .gda import GDA_ALPHAS, gda, gda_classifier
from .grid import MAX_EXTENSIONS, Axis, GridResult, search_grid
from .lpp import LPP_EPOCHS, LPPTrainer, lp_plus_plus
from .probe import LP_C_GRID, linear_probe
from .tip import TIP_ALPHAS, TIP_BETAS, tip_adapter
from .tip_f import TIPF_EPOCHS, tip_adapter_f

__all__ = [
    "GDA_ALPHAS",
    "LPP_EPOCHS",
    "LP_C_GRID",
    "MAX_EXTENSIONS",
    "TIP_ALPHAS",
    "TIP_BETAS",
    "TIPF_EPOCHS",
    "Axis",
    "FittedBaseline",
    "GridResult",
    "LPPTrainer",
    "accuracy",
    "description_class_embeddings",
    "gda",
    "gda_classifier",
    "linear_probe",
    "lp_plus_plus",
    "search_grid",
    "templates_for",
    "tip_adapter",
    "tip_adapter_f",
    "zero_shot_predict",
]
