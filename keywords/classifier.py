"""Public classifier API: `classify(text)` and `get_classifier(data_dir=None)`.

The process-wide classifier is built lazily (thread-safe) from keywords/data. It notices
edited data files (mtimes checked at most once a second) and reloads; a reload whose data
fails validation keeps the old rules and logs the problems.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jieba

from keywords.engine import Engine
from keywords.rules import data_files, load_rules
from keywords.tomlfile import DataError, resolve_dir

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)


@dataclass(frozen=True)
class Classification:
    kind: str  # "S1".."S6", "D", "P", "NONE"
    subtype: str | None  # D1..D6 / P1..P9 for D/P where the text supports one
    unit: str | None  # canonical name from units.toml
    confidence: float  # 0..1
    matched: tuple[str, ...]  # words/phrases behind the decision (kind and unit)
    also: tuple[str, ...] = ()  # secondary kinds

    def to_dict(self) -> dict:
        """Plain data (lists for tuples); by hand, as ``asdict`` deep-copies every field."""
        return {"kind": self.kind, "subtype": self.subtype, "unit": self.unit,
                "confidence": self.confidence, "matched": list(self.matched),
                "also": list(self.also)}


class Classifier:
    """Keyword classifier over one data directory, with hot reload."""

    CHECK_INTERVAL = 1.0

    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = resolve_dir(data_dir)
        self._lock = threading.Lock()
        self._jieba_words: set[str] = set()
        self._engine = self._build()
        self._memo: tuple[Engine | None, dict[str, Classification]] = (None, {})
        self._stamp = self._mtimes()
        self._failed_stamp: dict | None = None
        self._checked = time.monotonic()

    def _build(self) -> Engine:
        engine = Engine(load_rules(self.data_dir))
        words = engine.words()
        for w in words - self._jieba_words:
            jieba.add_word(w, freq=max(jieba.dt.FREQ.get(w, 0) or 0, 1000))
        for w in self._jieba_words - words:
            jieba.del_word(w)
        self._jieba_words = words
        return engine

    def _mtimes(self) -> dict:
        out = {}
        for p in data_files(self.data_dir):
            try:
                out[str(p)] = p.stat().st_mtime_ns
            except OSError:
                out[str(p)] = None
        return out

    def maybe_reload(self, force: bool = False) -> bool:
        """Reload if a data file changed (checked at most once a second); True if reloaded."""
        now = time.monotonic()
        if not force and now - self._checked < self.CHECK_INTERVAL:
            return False
        with self._lock:
            self._checked = now
            stamp = self._mtimes()
            if stamp == self._stamp or stamp == self._failed_stamp:
                return False
            try:
                engine = self._build()
            except (DataError, OSError) as exc:
                self._failed_stamp = stamp
                log.error("keyword data reload failed, keeping the old rules:\n%s", exc)
                return False
            self._engine, self._stamp, self._failed_stamp = engine, stamp, None
            log.info("keyword data reloaded from %s", self.data_dir)
            return True

    @property
    def rules(self):
        return self._engine.rules

    MEMO_SIZE = 2048

    def classify(self, text: str) -> Classification:
        """Results are remembered per rule set: the webhook classifies a message before it
        takes the database's write lock, so the handler's call under the lock is free."""
        self.maybe_reload()
        engine, memo = self._engine, self._memo
        if memo[0] is not engine:
            memo = self._memo = (engine, {})
        found = memo[1].get(text)
        if found is None:
            found = Classification(**engine.run(text))
            if len(memo[1]) >= self.MEMO_SIZE:
                memo[1].clear()
            memo[1][text] = found
        return found


_default: Classifier | None = None
_default_lock = threading.Lock()


def get_classifier(data_dir: str | Path | None = None) -> Classifier:
    """The shared classifier (built once), or a fresh one for a custom data directory."""
    global _default
    if data_dir is not None:
        return Classifier(data_dir)
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Classifier()
    return _default


def classify(text: str) -> Classification:
    """Classify one citizen message with the shared classifier."""
    return get_classifier().classify(text)
