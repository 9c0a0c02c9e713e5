"""Few-shot Lab core: CLIP features, a text-to-image Q-Former, and few-shot adapters.

This package never imports Streamlit; the app imports it.
"""

from .errors import FewShotError

__version__ = "0.1.0"

__all__ = ["FewShotError", "__version__"]
