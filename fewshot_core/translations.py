"""Ways to turn description features into pseudo image features for the adapter.

- ``raw``: the text features unchanged (text as extra training samples, as in cross-modal
  adaptation, Lin et al., CVPR 2023).
- ``mean-shift``: close the modality gap without training: each text feature minus the mean
  description feature plus the mean image feature of the images the protocol allows, re-normalised.
- ``qformer``: the trained Q-Former (``qformer.py``), the method under test.

``none`` (no texts: image only) names the adapter rows with 0 texts in a results table.
"""

from __future__ import annotations

import numpy as np

from .config import NONE, TRANSLATIONS  # noqa: F401 (re-exported: the names of this module's translations)
from .vectors import l2_normalize


def mean_shift(text_features: np.ndarray, image_features: np.ndarray) -> np.ndarray:
    """(M, D) texts moved by the gap between the mean image and the mean text, re-normalised.

    Both sides are L2-normalised first (CLIP compares directions), so the shift is between the
    centres of the two cones.

    Args:
        text_features: (M, D) every description feature (their mean is the text centre).
        image_features: (N, D) the images the protocol allows (support set, or train split minus validation).
    """
    t, x = l2_normalize(np.asarray(text_features, np.float32)), l2_normalize(np.asarray(image_features, np.float32))
    return l2_normalize(t - t.mean(axis=0) + x.mean(axis=0)).astype(np.float32)
