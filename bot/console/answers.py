"""Canned answer templates (答复模板) from ``answer_templates.toml``: data, not code."""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any


@functools.cache
def load_templates() -> tuple[dict[str, str], ...]:
    """Every template as {"title", "text"}, in file order; a broken file fails loudly."""
    raw = resources.files("bot.console").joinpath("answer_templates.toml").read_text("utf-8")
    entries: list[dict[str, Any]] = tomllib.loads(raw).get("template", [])
    templates = []
    for index, entry in enumerate(entries, start=1):
        title, text = str(entry.get("title", "")).strip(), str(entry.get("text", "")).strip()
        if not title or not text:
            raise ValueError(f"answer_templates.toml: template {index} needs a title and a text")
        templates.append({"title": title, "text": text})
    return tuple(templates)


def filled(index: int, number: str) -> str | None:
    """Template ``index`` (0-based) with the ticket number put in, or None if out of range."""
    templates = load_templates()
    if not 0 <= index < len(templates):
        return None
    return templates[index]["text"].replace("{number}", number)
