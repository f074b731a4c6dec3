"""Command-level normalisation: full-width → half-width, Traditional → Simplified."""

from __future__ import annotations

import unicodedata
from functools import cache

import opencc


@cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def simplify(text: str) -> str:
    """NFKC (full-width letters and digits) then Traditional → Simplified, trimmed."""
    return _converter().convert(unicodedata.normalize("NFKC", text)).strip()
