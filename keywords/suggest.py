"""Keyword suggestions from the office's corrections (table `corrections` in the bot's SQLite db).

For each corrected-to kind: frequent jieba tokens and token bigrams in the corrected texts
that are not already keywords of that kind, counted once per text, so the office can add the
good ones to the keyword files.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import jieba

from keywords.normalize import normalise
from keywords.rules import Rules, kind_of

STOP = set("的 了 是 我 你 他 她 们 在 就 都 也 还 又 和 跟 给 让 说 要 有 没 不 这 那 个 "
           "吗 呢 啊 吧 一 去 来 到 把 被 着 过 么 什么 我们 你们 他们 一个 这个 那个 就是 "
           "还是 已经 现在 "
           "今天 时候 可以 没有 不是 因为 所以 但是 然后 自己 一下 怎么 为什么".split())


class MissingTable(Exception):
    """The database has no `corrections` table."""


def read_corrections(db_path: str | Path) -> list[tuple[str, str]]:
    """(text, new_kind) for every correction that sets a kind."""
    return [(text, kind) for text, kind, _sub in read_corrected_labels(db_path)]


def read_corrected_labels(db_path: str | Path) -> list[tuple[str, str, str | None]]:
    """(text, new_kind, new_subtype) for every correction that sets a kind: labels for
    `keywords fit`. A sub-type that does not belong to the kind is dropped."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='corrections'")
        if row.fetchone() is None:
            raise MissingTable(f"{db_path} has no table 'corrections'")
        rows = con.execute("SELECT text, new_kind, new_subtype FROM corrections "
                           "WHERE new_kind IS NOT NULL AND text IS NOT NULL").fetchall()
    finally:
        con.close()
    return [(str(t), str(k), s if s and str(s)[:1] == str(k) else None) for t, k, s in rows]


def _candidates(text: str) -> set[str]:
    toks = [t for t in jieba.lcut(normalise(text)) if t.strip(",、 ")]
    words = {t for t in toks if len(t) >= 2 and t not in STOP and not t.isdigit()}
    for a, b in zip(toks, toks[1:], strict=False):
        if a not in STOP and b not in STOP and "," not in a + b and not (a + b).isdigit():
            words.add(a + b)
    return words


def suggest(rules: Rules, corrections: list[tuple[str, str]], top: int = 15,
            min_count: int = 2) -> dict[str, list[tuple[str, int]]]:
    """Per kind, the `top` most frequent new candidate words (seen in >= min_count texts)."""
    known: dict[str, set[str]] = defaultdict(set)
    for t in rules.terms:
        known[kind_of(t.section)].add(t.text)
    counts: dict[str, Counter] = defaultdict(Counter)
    for text, kind in corrections:
        counts[kind].update(_candidates(text))
    out: dict[str, list[tuple[str, int]]] = {}
    for kind in sorted(counts):
        have = known.get(kind, set())
        items = [(w, c) for w, c in counts[kind].most_common()
                 if c >= min_count and w not in have and not any(w in k for k in have)]
        out[kind] = items[:top]
    return out
