"""Time, injectable: the engine asks a Clock, so tests can control durable timers."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock time in epoch microseconds (the one reading a subclass provides), milliseconds (what most
    columns store) and seconds. The millisecond and second readings are the microsecond one, floored and
    divided, so a workflow's creation millisecond is always the millisecond of its creation microsecond."""

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def now_ms(self) -> int:
        return self.now_us() // 1000

    def now(self) -> float:
        return self.now_us() / 1_000_000


class SystemClock(Clock):
    """The clock of a runtime given none: the same readings, each one call (the engine reads the time a
    few times per step)."""

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000  # == now_us() // 1000: floor divisions compose


class OffsetClock(Clock):
    """A clock running ``offset`` seconds ahead of the real one, for tests of recorded deadlines."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def now_us(self) -> int:
        return time.time_ns() // 1000 + round(self.offset * 1_000_000)
