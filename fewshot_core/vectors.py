"""Small vector helpers shared by the numeric code."""

from __future__ import annotations

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (CLIP compares directions); zero rows stay zero."""
    x = np.asarray(x)
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)
