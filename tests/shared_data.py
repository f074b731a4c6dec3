"""Where the team's shared data sets are: ``../shared`` beside the checkout (as in CI)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
DEV_SET = SHARED / "data" / "complaints-dev.jsonl"
UNITS_TSV = SHARED / "data" / "units.tsv"
