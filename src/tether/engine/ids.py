"""Workflow IDs that Tether makes up: UUID version 7 (RFC 9562), ordered by creation within this process.

``list_workflows`` orders by creation time (whole milliseconds) and then by ID. Version 4 IDs made ties in one
millisecond fall in random order (a fork made right after another could be listed first); version 7 IDs begin
with the millisecond and a counter (RFC 9562, section 6.2, method 1), so IDs made here sort in the order they
were made, and PostgreSQL's B-tree on the ID takes inserts at its right edge instead of at random pages.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_COUNTER_MAX = 0xFFF  # the 12 bits of rand_a


def new_workflow_id() -> str:
    """A new UUIDv7 string, greater than every one this process made before."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = secrets.randbits(11)  # a random start, leaving room to count up within the millisecond
        elif _counter < _COUNTER_MAX:
            _counter += 1
        else:  # 2,048+ IDs in one millisecond (or the clock stepped back): borrow from the next millisecond
            _last_ms += 1
            _counter = 0
        ms, counter = _last_ms, _counter
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | secrets.randbits(62)
    return str(uuid.UUID(int=value))
