"""The debouncer: many calls with one key within a period start one workflow, with the last call's arguments.

A debounced workflow is an ordinary workflow, recorded at the first call as DELAYED on its queue with the
debounce key as its deduplication ID and a deadline (``debounce_timeout_sec`` after that first call). Each
later call with the key replaces its inputs and moves its start to one period after that call, never past
the deadline, in one transaction (:meth:`Store.debounce`). When the delay passes, the queue runner of some
process starts it like any delayed workflow. So the state of a debounce is a database row: a crash of the
caller or of any process loses nothing, and the workflow starts once.

The windows themselves are the pure functions :func:`tether.engine.cron.debounce_delay` and
:func:`tether.engine.cron.debounce_deadline`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from tether.engine import cron
from tether.engine.context import DebounceStart
from tether.engine.inputs import encode_inputs
from tether.engine.registry import StepPolicy
from tether.engine.runtime import Runtime
from tether.engine.steps import run_step_async
from tether.errors import QueueDeduplicatedError, StorageError
from tether.storage.base import DebounceResult
from tether.types import WorkflowSerializationFormat

MAX_ATTEMPTS = 100
"""How often one debounce call may lose a race for its key (to another caller) before it gives up."""

Action = Literal["return", "enqueue", "raise", "retry"]


@dataclass(frozen=True)
class Target:
    """What a debouncer starts: the workflow (by registered name), its queue, its argument format, and the
    application it belongs to (None: the starter's)."""

    workflow_name: str
    queue_name: str
    serialization: WorkflowSerializationFormat
    timeout_s: float | None
    application_name: str | None = None

    def key(self, debounce_key: str) -> str:
        """The deduplication ID of a debounce key (the workflow's name keeps two debouncers apart)."""
        return f"{self.workflow_name}-{debounce_key}"


def classify(result: DebounceResult, workflow_name: str) -> Action:
    """What a debounce does after trying to push back the workflow holding its key:

    - ``return``: it pushed one back; that workflow is the answer;
    - ``enqueue``: the key is free; start a new debounced workflow;
    - ``raise``: a workflow that is not a debounce of this function holds the key;
    - ``retry``: a debounce of this function holds it but has just left DELAYED (it is starting): try again.
    """
    if result.bounced is not None:
        return "return"
    if result.holder is None:
        return "enqueue"
    if not result.holder_is_debounced or result.holder_name != workflow_name:
        return "raise"
    return "retry"


def is_deduplicated(exc: BaseException) -> bool:
    """A lost race for a deduplication ID, also in the form a portable (JSON) checkpoint replays it: an
    error that keeps only the original type's name."""
    if isinstance(exc, QueueDeduplicatedError):
        return True
    return getattr(exc, "name", None) in ("DBOSQueueDeduplicatedError", "QueueDeduplicatedError")


async def _push_back(rt: Runtime, target: Target, debounce_key: str, period_s: float, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> dict[str, Any]:
    inputs = encode_inputs(args, kwargs, target.serialization)
    now = rt.clock.now_ms()
    result = await rt.io(rt.store.debounce, target.workflow_name, target.queue_name, target.key(debounce_key),
                         now + int(period_s * 1000), inputs, now)
    # A plain dict, so that the step's checkpoint can be stored in either format.
    return {"bounced": result.bounced, "holder": result.holder, "holder_is_debounced": result.holder_is_debounced,
            "holder_name": result.holder_name}


async def debounce(rt: Runtime, target: Target, debounce_key: str, period_s: float, args: tuple[Any, ...],
                   kwargs: dict[str, Any], enqueue: Callable[[DebounceStart], Awaitable[str]]) -> str:
    """Debounce one call; returns the ID of the workflow that will run with these arguments (unless a later
    call replaces them). ``enqueue`` records a new debounced workflow (the API passes its queue's enqueue).
    Inside a workflow, the push-back is a checkpointed step (``DBOS.debounce``).

    Raises:
        ValueError: a negative period or timeout.
        QueueDeduplicatedError: the key is held by a workflow that is not a debounce of this function.
    """
    if period_s < 0 or (target.timeout_s is not None and target.timeout_s < 0):
        raise ValueError("The debounce period and timeout must be non-negative")
    dedup = target.key(debounce_key)
    for _ in range(MAX_ATTEMPTS):
        found: dict[str, Any] = await run_step_async(StepPolicy("DBOS.debounce"), _push_back,
                                                     (rt, target, debounce_key, period_s, args, kwargs), {})
        result = DebounceResult(**found)
        action = classify(result, target.workflow_name)
        if action == "return":
            assert result.bounced is not None
            return result.bounced
        if action == "raise":
            raise QueueDeduplicatedError(result.holder or "", target.queue_name, dedup)
        if action == "retry":
            continue
        now = rt.clock.now_ms()
        deadline = cron.debounce_deadline(now, target.timeout_s)
        try:
            return await enqueue(DebounceStart(dedup, cron.debounce_delay(now, period_s, deadline), deadline,
                                               target.application_name))
        except Exception as exc:
            if not is_deduplicated(exc):
                raise
            # Another caller took the key between our push-back and our enqueue: push theirs back instead.
    raise StorageError(f"Debounce of {dedup!r} lost the race for its key {MAX_ATTEMPTS} times")
