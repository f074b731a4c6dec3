"""The phrase matcher's speed-ups must not change a single hit.

Why: `find` adds a look-ahead guard to patterns that open with a look-behind and skips a
pattern when a character every match needs is absent from the text. Both are meant to be
invisible; these tests compare against the plain patterns on every `re:` entry in the data.
"""

from __future__ import annotations

import random
import re

import pytest

from keywords import get_classifier, matcher
from keywords.matcher import PhraseMatcher, first_char_guard, required_chars
from keywords.rules import load_rules

# made-up messages in the voices the patterns are written for (numbers, dates, hand-offs)
SAMPLES = [
    "等了三个月了还没批下来，窗口说再等十个工作日",
    "4点半就没人了，门锁着，说是外出培训",
    "住建等规划，规划等住建，两个月了一个都没出",
    "社保局说找医保局，医保局说找社保局，推来推去",
    "说好的五个工作日出证，现在二十天了",
    "十二月份就交的材料，到现在快半年哒",
    "九点多才来开门，来了就玩手机",
    "也不行，吗，请问怎么办理，GF20240101-001",
    "",
]


def _patterns() -> list[str]:
    rules = load_rules()
    out = [t.text[3:] for t in (*rules.terms, *rules.none_cues) if t.is_pattern]
    for words in rules.cues.values():
        out += [w[3:] for w in words if w.startswith("re:")]
    return out


def _texts() -> list[str]:
    rng = random.Random(7)
    alphabet = "".join(sorted(set("".join(SAMPLES))))
    alphabet += "一二两三四五六七八九十半几0123456789天月年了还没,"
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    return SAMPLES + noise


def test_guard_and_required_characters_change_no_match():
    texts = _texts()
    for src in _patterns():
        plain = re.compile(src, re.IGNORECASE)
        guarded = re.compile(first_char_guard(src), re.IGNORECASE)
        need = required_chars(src)
        for t in texts:
            want = [m.span() for m in plain.finditer(t)]
            assert [m.span() for m in guarded.finditer(t)] == want, src
            if want:
                assert need <= set(t), src


@pytest.mark.parametrize("src, guarded", [
    ("(?<![一二三])[一二三]+个?月", "(?=[一二三])(?<![一二三])[一二三]+个?月"),
    (r"(?<!\d)\d+点", r"(?=\d)(?<!\d)\d+点"),
    ("(?<!x)a?b", "(?<!x)a?b"),  # the first item may match nothing: no guard
    ("还(没|未)办", "还(没|未)办"),  # no look-behind to speed up
])
def test_first_char_guard(src, guarded):
    assert first_char_guard(src) == guarded


def test_required_characters_are_conservative():
    assert required_chars("门[^,]{0,2}锁") == {"门", "锁"}
    assert required_chars("(工作日|天|日)办") == {"办"}  # a branch adds only what all need
    assert required_chars("x?y") == frozenset()  # letters can change case: never required
    assert required_chars("(?=等)说") == {"说"}  # look-arounds add nothing


def test_one_character_words_still_need_a_whole_token():
    m = PhraseMatcher()
    m.add("拖", "kw")
    m.compile()
    assert [h.text for h in m.find("一直拖着", ["一直", "拖", "着"])] == ["拖"]
    assert m.find("拖拉机坏了", ["拖拉机", "坏", "了"]) == []


def test_root_buckets_change_no_match(monkeypatch):
    # the trie's root is split into look-ahead-guarded groups for speed; matches must be
    # exactly those of the one-group pattern (texts built from the phrases themselves)
    engine = get_classifier()._engine
    rng = random.Random(11)
    for phrases in (engine.kind_matcher._phrases, engine.units.matcher._phrases):
        words = sorted(phrases)
        grouped = re.compile(matcher.trie_pattern(words))
        monkeypatch.setattr(matcher, "ROOT_BUCKET", 10**9)
        plain = re.compile(matcher.trie_pattern(words))
        monkeypatch.undo()
        assert grouped.pattern != plain.pattern
        texts = SAMPLES + ["".join(rng.choice(words)[: rng.randint(1, 4)] for _ in range(40))
                           for _ in range(300)]
        for t in texts:
            assert [m.span() for m in grouped.finditer(t)] == [m.span() for m in plain.finditer(t)]
