"""Workflow IDs that Tether makes up: UUID version 7 (RFC 9562), ordered by creation within this process.

``list_workflows`` orders by creation time (whole milliseconds) and then by ID. Version 4 IDs made ties in one
millisecond fall in random order (a fork made right after another could be listed first); version 7 IDs begin
with the millisecond and a counter (RFC 9562, section 6.2, method 1), so IDs made here sort in the order they
were made, and PostgreSQL's B-tree on the ID takes inserts at its right edge instead of at random pages.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF  # the 12 bits of rand_a

# Random bits come from the OS in blocks, not one call per ID: ``os.urandom`` releases the GIL, and an event
# loop thread that releases it while I/O threads run Python waits up to the switch interval (5 ms) to get it
# back -- at hundreds of starts per second that was a seventh of the loop's time (bench/, async x256). A
# forked child drops the block it inherited, so parent and child never hand out the same bits.
_BLOCK = 4096
_random = b""
_taken = _BLOCK


def _forget_random() -> None:
    global _random, _taken
    _random, _taken = b"", _BLOCK


os.register_at_fork(after_in_child=_forget_random)


def _random_bits(n: int) -> int:
    """``n`` (at most 64) random bits from the current block; call with ``_lock`` held."""
    global _random, _taken
    if _taken + 8 > len(_random):
        _random, _taken = os.urandom(_BLOCK), 0
    word = int.from_bytes(_random[_taken:_taken + 8], "big")
    _taken += 8
    return word >> (64 - n)


def new_workflow_id() -> str:
    """A new UUIDv7 string, greater than every one this process made before."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = _random_bits(11)  # a random start, leaving room to count up within the millisecond
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 2,048+ IDs in one millisecond (or the clock stepped back): borrow from the next millisecond
            _last_ms += 1
            _counter = 0
        ms, counter, rand_b = _last_ms, _counter, _random_bits(62)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    h = f"{value:032x}"  # what str(uuid.UUID(int=value)) gives, without building the UUID object
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
