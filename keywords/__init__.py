"""Complaint classifier: keyword files in keywords/data → kind, sub-type, unit, matched words."""

from keywords.classifier import Classification, classify, get_classifier
from keywords.taxonomy import load_taxonomy
from keywords.units import load_units

__all__ = ["Classification", "classify", "get_classifier", "load_taxonomy", "load_units"]
