"""Fast multi-phrase matching without a second jieba pass.

Literal phrases are compiled into one trie-shaped regular expression; one C-level
`finditer` scan returns the leftmost-longest phrases without overlaps (no extra dependency,
and without a look-ahead `re` can skip positions whose character starts no phrase). So
工商银行 hides 工商 and 态度很差 is not also 很差. One-character words match only whole jieba
tokens (拖 in 拖了 but not in 拖拉机). Each "re:" pattern is its own compiled expression:
OR-ing them into one look-ahead alternation was five times slower.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import accumulate
from typing import NamedTuple


class Hit(NamedTuple):
    """A tuple, not a dataclass: a long letter makes hundreds and a tuple is built faster."""

    start: int
    end: int
    text: str
    roles: tuple  # whatever payloads were registered for this phrase or pattern


ROOT_BUCKET = 64  # first characters per look-ahead-guarded group at the trie's root


def trie_pattern(words: Iterable[str]) -> str:
    """A regex matching any of `words`, longest alternative first at every branch.

    The root's branches come in groups of ROOT_BUCKET first characters, each behind a
    look-ahead on its characters: where a phrase starts but fails, `re` tries the other
    top-level branches one by one, and a group is skipped with one class test. Same
    matches (at the root every branch starts with its own character); on dev + real
    letters the keyword trie scans in 0.4 of the time and the unit trie in 0.6.
    """
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict) -> str:
        end = "" in node
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if end:
            return "(?:" + body + ")?" if len(alts) > 1 or len(body) > 1 else body + "?"
        return body

    roots = [(ch, child) for ch, child in sorted(trie.items()) if ch]
    if len(roots) <= ROOT_BUCKET:
        return emit(trie)
    groups = []
    for i in range(0, len(roots), ROOT_BUCKET):
        chunk = roots[i:i + ROOT_BUCKET]
        first = "".join(re.escape(ch) for ch, _child in chunk)
        alts = "|".join(re.escape(ch) + emit(child) for ch, child in chunk)
        groups.append(f"(?=[{first}])(?:{alts})")
    return "(?:" + "|".join(groups) + ")"


def _group_end(src: str, i: int) -> int:
    """Index just past the group or class that opens at src[i] ("(" or "["); -1 if unbalanced."""
    depth, in_class, j, opened = 0, False, i, -1
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if in_class:
            if c == "]" and j > opened + (2 if src[opened + 1] == "^" else 1):
                in_class = False
                if depth == 0:
                    return j + 1
        elif c == "[":
            in_class, opened = True, j
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return -1


def first_char_guard(src: str) -> str:
    """`(?<!X)[C]+…` → `(?=[C])(?<!X)[C]+…`: the same matches, found faster.

    A pattern that opens with a look-behind makes `re` run it at every position; a
    look-ahead on the class the match must start with fails at once where it cannot start.
    Only added when a look-behind leads and the class (or literal) after it is not optional.
    """
    i = 0
    while src.startswith(("(?<!", "(?<="), i):
        i = _group_end(src, i)
        if i < 0:
            return src
    if i == 0 or i >= len(src):
        return src
    if src[i] == "[":
        j = _group_end(src, i)
        if j < 0:
            return src
        first = src[i:j]
    elif src[i] == "\\" and i + 1 < len(src):
        j, first = i + 2, src[i:i + 2]  # \d, or an escaped literal
    elif src[i] not in ".^$*+?{}[]|()":
        j, first = i + 1, src[i]
    else:
        return src
    if src.startswith(("?", "*", "{0"), j):
        return src  # the class may match nothing: no guard
    return f"(?={first})" + src


def required_chars(src: str) -> frozenset[str]:
    """Characters every match of the pattern must contain (CJK and ASCII non-letters only).

    A text without one of them cannot match, so `find` skips the pattern with a set test
    instead of a scan. Conservative: look-arounds, classes and optional parts add nothing;
    a branch adds what all its alternatives require. Unparsable input requires nothing.
    """
    try:
        from re import _constants as c
        from re import _parser
        items = _parser.parse(src, re.IGNORECASE)
    except Exception:  # noqa: BLE001 - a private module: when in doubt, never skip
        return frozenset()

    def uncased(ch: str) -> bool:  # IGNORECASE cannot make it match another character
        return (ch.isascii() and not ch.isalpha()) or ("\u3400" <= ch <= "\u9fff")

    def walk(seq) -> set[str]:
        out: set[str] = set()
        for op, av in seq:
            if op is c.LITERAL and uncased(chr(av)):
                out.add(chr(av))
            elif op is c.SUBPATTERN:
                out |= walk(av[3])
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
                out |= walk(av[2])
            elif op is c.BRANCH and av[1]:
                out |= set.intersection(*(walk(alt) for alt in av[1]))
        return out

    return frozenset(walk(items))


class PhraseMatcher:
    """Registered phrases/patterns with payloads; `find` returns non-contained hits."""

    def __init__(self) -> None:
        self._phrases: dict[str, list] = {}
        self._tokens: dict[str, list] = {}
        self._patterns: list[tuple[str, object]] = []
        self._rx: re.Pattern | None = None
        # (compiled pattern, payload, characters every match needs)
        self._prx: list[tuple[re.Pattern, object, frozenset[str]]] = []

    def add(self, text: str, payload: object) -> None:
        if text.startswith("re:"):
            self._patterns.append((text[3:], payload))
        elif len(text) == 1:
            self._tokens.setdefault(text, []).append(payload)
        elif text:
            self._phrases.setdefault(text, []).append(payload)

    def compile(self) -> PhraseMatcher:
        if self._phrases:
            self._rx = re.compile(trie_pattern(self._phrases))
        self._prx = [(re.compile(first_char_guard(src), re.IGNORECASE), p, required_chars(src))
                     for src, p in self._patterns]
        self._roles = {w: tuple(p) for w, p in self._phrases.items()}
        self._token_roles = {w: tuple(p) for w, p in self._tokens.items()}
        # one-character words: found by one scan, kept where they are a whole jieba token
        self._trx = re.compile("[" + "".join(map(re.escape, self._tokens)) + "]") \
            if self._tokens else None
        return self

    def find(self, text: str, tokens: list[str] | None = None) -> list[Hit]:
        """All hits in `text`, left to right; contained shorter hits removed."""
        raw: list[Hit] = []
        if self._rx is not None:
            roles = self._roles
            raw = [Hit(s, e, g, roles[g]) for m in self._rx.finditer(text)
                   for (s, e), g in ((m.span(), m.group()),)]
            if not self._prx and not (tokens and self._tokens):
                return raw  # one trie scan: already in order and without overlaps
        chars = set(text) if self._prx else None
        for rx, payload, req in self._prx:
            if not req <= chars:
                continue  # a character every match needs is not in the text
            for m in rx.finditer(text):
                if m.end() > m.start():
                    raw.append(Hit(m.start(), m.end(), m.group(), (payload,)))
        if tokens and self._tokens:
            found = [m.start() for m in self._trx.finditer(text)]
            if found:
                bounds = set(accumulate(map(len, tokens), initial=0))
                for pos in found:
                    if pos in bounds and pos + 1 in bounds:  # the character is a whole token
                        ch = text[pos]
                        raw.append(Hit(pos, pos + 1, ch, self._token_roles[ch]))
        raw.sort(key=lambda h: (h.start, h.start - h.end))
        kept: list[Hit] = []
        max_end = -1
        for h in raw:
            if h.end > max_end or (kept and (h.start, h.end) == (kept[-1].start, kept[-1].end)):
                kept.append(h)
                max_end = max(max_end, h.end)
        return kept
