"""Time, injectable: the engine asks a Clock, so tests can control durable timers."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock time in epoch milliseconds (what is stored) and seconds."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def now(self) -> float:
        return time.time()


class OffsetClock(Clock):
    """A clock running ``offset`` seconds ahead of the real one, for tests of recorded deadlines."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def now_ms(self) -> int:
        return int((time.time() + self.offset) * 1000)

    def now(self) -> float:
        return time.time() + self.offset
