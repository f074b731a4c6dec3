"""Reply texts for citizens, from ``replies.toml`` (data, not code)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

REPLIES_FILE = Path(__file__).with_name("replies.toml")


@cache
def replies() -> dict[str, str]:
    """All reply texts, read once per process."""
    with REPLIES_FILE.open("rb") as file:
        return tomllib.load(file)


def say(key: str, **values: object) -> str:
    """The reply text ``key`` with its placeholders filled in."""
    return replies()[key].format(**values)
