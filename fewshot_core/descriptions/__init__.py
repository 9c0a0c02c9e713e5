"""Class descriptions: sources (and their registry), parsing, matching and storage."""

from .matching import MatchReport, match_class_names, normalise

__all__ = ["MatchReport", "match_class_names", "normalise"]
