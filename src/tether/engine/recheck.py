"""The safety net against a lost wake-up, at a cost independent of the number of waiters.

Wake-ups are pushed (engine/waiters.py), but one can be lost: a notification dropped by the listener, a row
written behind the engine's back. So every ``wakeup_recheck_interval_sec`` one pass takes the waiters parked
in ``Runtime.wait_until`` and asks the database, in one read per kind of wait (per chunk of
:data:`RECHECK_CHUNK` waiters), which of their keys hold what they wait for now; it wakes only those. A write
whose wake-up was lost is therefore noticed by the first pass that starts after it: a waiter parked before
the write is in that pass, and one that parked after it saw the write in its own check. 100,000 waiters
cost about 20 reads per kind per interval, instead of one query per waiter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tether.engine.waiters import Waiter
from tether.errors import NotLaunchedError
from tether.types import WorkflowStatusString

if TYPE_CHECKING:
    from tether.engine.runtime import Runtime

logger = logging.getLogger("tether")

RECHECK_CHUNK = 5000  # waiters per read: a read of a few milliseconds, and the loop is never held for long
RECHECKED_KINDS = frozenset({"msg", "event", "stream", "wf"})  # the kinds the store can answer for


@dataclass(frozen=True)
class RecheckPass:
    """What one pass did: the reads it made and the waiters it woke."""

    reads: int
    woken: int


async def recheck_waiters(rt: Runtime) -> RecheckPass:
    """Re-check every waiter parked now (with marks) against the database, and wake those with something.

    A workflow running here that the database shows ended was cancelled (or taken over) without this
    process hearing of it: the cancellation is applied as if notified, so its waits stop.

    Raises:
        NotLaunchedError: the runtime was destroyed.
    """
    began = time.perf_counter()
    waiters = rt.hub.rechecked()
    reads = 0
    woken: set[int] = set()
    for start in range(0, len(waiters), RECHECK_CHUNK):
        wants: dict[str, dict[tuple[str, str, int], list[Waiter]]] = {}
        for waiter in waiters[start:start + RECHECK_CHUNK]:
            for (kind, wfid, key), mark in zip(waiter.keys, waiter.marks or (), strict=True):
                wants.setdefault(kind, {}).setdefault((wfid, key, mark), []).append(waiter)
        for kind, by_want in wants.items():
            if kind in RECHECKED_KINDS:
                reads += 1
                found = await rt.io(rt.store.recheck_waiters, kind, list(by_want))
            else:  # a kind the store cannot answer for: those waiters re-check themselves
                found = list(by_want)
            for want in found:
                if kind == "wf" and want[0] in rt.active:
                    await _ended_here(rt, want[0])
                for waiter in by_want.get(want, ()):
                    if not waiter.woken:
                        woken.add(id(waiter))
                    waiter.wake()
    logger.debug("Re-checked %d waiting calls in %d reads (%.3f s): %d woken", len(waiters), reads,
                 time.perf_counter() - began, len(woken))
    return RecheckPass(reads=reads, woken=len(woken))


async def _ended_here(rt: Runtime, workflow_id: str) -> None:
    row = await rt.io(rt.store.get_workflow, workflow_id, load_input=False, load_output=False)
    if row is not None and row.status == WorkflowStatusString.CANCELLED.value:
        rt.notify("wf", workflow_id, row.status)  # marks it cancelled here, as the lost notification would have


async def recheck_forever(rt: Runtime) -> None:
    """Run a pass every ``wakeup_recheck_interval_sec`` until the runtime ends (a task on its loop)."""
    while not rt.destroyed:
        await asyncio.sleep(rt.settings.wakeup_recheck_interval_sec)
        try:
            await recheck_waiters(rt)
        except NotLaunchedError:
            return
        except Exception:  # a failed pass is tried again at the next interval; waiters keep their wake-ups
            logger.warning("The re-check of waiting workflows failed", exc_info=True)
