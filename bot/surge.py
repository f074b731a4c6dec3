"""Acknowledge first when messages pour in faster than they can be handled in turn.

Normally the webhook handles a message while WeChat waits (classification, ticket,
routing, the reply with its follow-up questions: about 1.5 ms of CPU). On the day a
video goes viral that is the bottleneck: one machine handles some 500–800 messages a
second that way, while keeping a message and acknowledging it costs a fraction of that.
So when one worker sees more than ``surge.per_second`` messages within a second, it
only keeps each message (one append to its intake journal, storage/intake.py) and
answers with an acknowledgement; the drain
(bot/drain.py, its own low-priority process) handles the queue in arrival order and
sends each reply — ticket number, questions — as a customer-service message. The
worker goes back to answering in full ``surge.hold_seconds`` after the rate has
fallen. A citizen with a message still queued is always queued behind it, so nobody's
messages are handled out of order. While it acknowledges first, a worker logs one
summary line a second instead of one line a message (each message's key is logged
again, with its ticket, when the drain handles it).

``surge.mode``: ``auto`` (the above), ``off`` (always answer in full, as before), or
``always`` (acknowledge everything first; for tests and benches).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

log = logging.getLogger(__name__)

MODES = ("auto", "off", "always")


class SurgeGauge:
    """Per-process arrival rate with hysteresis: cheap enough to ask on every request."""

    def __init__(self, mode: str, per_second: int, hold_seconds: float,
                 monotonic=time.monotonic) -> None:
        self.mode = mode
        self.per_second = per_second
        self.hold_seconds = hold_seconds
        self._now = monotonic
        self._arrivals: deque[float] = deque()
        self._surging_until = float("-inf")
        self._lock = threading.Lock()
        self._acknowledged = 0
        self._last_key = ""
        self._summary_at = monotonic()

    def arrive(self) -> bool:
        """Count one message; True when it should be acknowledged first."""
        if self.mode != "auto":
            return self.mode == "always"
        now = self._now()
        with self._lock:
            arrivals = self._arrivals
            arrivals.append(now)
            while arrivals and arrivals[0] <= now - 1.0:
                arrivals.popleft()
            if len(arrivals) > self.per_second:
                self._surging_until = now + self.hold_seconds
            return now < self._surging_until

    def acknowledged(self, key: str) -> None:
        """Count a message acknowledged first; log the count once a second."""
        now = self._now()
        with self._lock:
            self._acknowledged += 1
            self._last_key = key
            if now - self._summary_at < 1.0:
                return
            count, last, since = self._acknowledged, self._last_key, self._summary_at
            self._acknowledged, self._summary_at = 0, now
        log.info("surge: %s messages acknowledged first in %.1f s, the last %s", count,
                 now - since, last)


_gauges: dict[tuple, SurgeGauge] = {}
_gauges_lock = threading.Lock()


def gauge_for(config) -> SurgeGauge:  # noqa: ANN001 - bot.config.Config
    """The process's gauge for these settings (one per worker process)."""
    key = (config["surge.mode"], config["surge.per_second"], config["surge.hold_seconds"])
    found = _gauges.get(key)
    if found is None:
        with _gauges_lock:
            found = _gauges.setdefault(key, SurgeGauge(*key))
    return found
