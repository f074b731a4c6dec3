"""Text normalisation before matching: one canonical form so keyword files stay small.

Full-width → half-width (NFKC), Traditional → Simplified (OpenCC t2s), ASCII lower-cased,
emoji and decorative symbols dropped, quotes/brackets removed (they split phrases such as
说'等着'), and every clause break folded to "," so patterns can use ``[^,]`` as "same clause".
Voice-to-text run-ons without punctuation pass through unchanged: matching is by substring.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import opencc

_lock = threading.Lock()
_converter: opencc.OpenCC | None = None

_BREAKS = re.compile(r"[,，.。!！?？;；:：\n\r\t…~～|/\\]+|\s{1,}")
_DROP = re.compile(
    "[\"'“”‘’「」『』《》〈〉【】()（）\\[\\]{}<>*#^_=+`"
    "\u200b-\u200f\u2060\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]"
)
_MULTI_COMMA = re.compile(r",{2,}")


def _t2s() -> opencc.OpenCC:
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                _converter = opencc.OpenCC("t2s")
    return _converter


# emoji, pictographs, dingbats, arrows, box drawing, private use: they carry no words
_SYMBOLS = re.compile("[\u2190-\u21ff\u2300-\u23ff\u2460-\u27bf\u2b00-\u2bff\ue000-\uf8ff"
                      "\U0001f000-\U0001faff\U000e0000-\U000e007f]")


def normalise(text: str) -> str:
    """Return the canonical form used for every match (keywords, units, cues)."""
    t = unicodedata.normalize("NFKC", text or "")
    t = _t2s().convert(t).lower()
    t = _SYMBOLS.sub("", t)
    t = _DROP.sub("", t)
    t = _BREAKS.sub(",", t)
    t = _MULTI_COMMA.sub(",", t)
    return t.strip(",")
