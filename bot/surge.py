"""Acknowledge first when messages pour in faster than they can be handled in turn.

Normally the webhook handles a message while WeChat waits (classification, ticket,
routing, the reply with its follow-up questions: about 1.5 ms of CPU). On the day a
video goes viral that is the bottleneck: one machine handles some 500–800 messages a
second that way, while keeping a message and acknowledging it costs a fraction of that.
So when one worker sees more than ``surge.per_second`` messages within a second, it
only keeps each message as ``queued`` and answers with an acknowledgement; the drain
(bot/drain.py, its own low-priority process) handles the queue in arrival order and
sends each reply — ticket number, questions — as a customer-service message. The
worker goes back to answering in full ``surge.hold_seconds`` after the rate has
fallen. A citizen with a message still queued is always queued behind it, so nobody's
messages are handled out of order.

``surge.mode``: ``auto`` (the above), ``off`` (always answer in full, as before), or
``always`` (acknowledge everything first; for tests and benches).
"""

from __future__ import annotations

import threading
import time
from collections import deque

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
