"""The demo's three workflows: one publishing events, one waiting for an approval message, one streaming.

Every step does real CPU work (a naive Fibonacci), run on a worker thread so the server stays responsive.
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum
from typing import Any

from tether import DBOS


class WorkflowEvent(str, Enum):
    """Event keys; a member works wherever a key string does (``WorkflowEvent.PROGRESS`` is ``"progress"``)."""

    PROGRESS = "progress"
    STATUS = "status"
    RESULT = "result"


NOTIFICATION_TOPIC = "notification"
STREAM_KEY = "progress_stream"
EVENTS_BASE = 23
MESSAGING_BASE = 20
STREAMING_BASE = 23


def fibonacci(n: int) -> int:
    """Deliberately slow (exponential) Fibonacci: the CPU work each step does."""
    return n if n <= 1 else fibonacci(n - 1) + fibonacci(n - 2)


@DBOS.step(name="tether.demo.fibonacci_step", retries_allowed=True)
async def fibonacci_step(n: int) -> dict[str, int]:
    result = await asyncio.to_thread(fibonacci, n)
    DBOS.logger.info("fibonacci(%d) = %d", n, result)
    return {"n": n, "fibonacci": result}


@DBOS.workflow(name="tether.demo.workflow_with_events")
async def workflow_with_events(n_steps: int, base_number: int = EVENTS_BASE) -> list[dict[str, int]]:
    """Publishes progress (0-100), status (started, processing_step_N, completed) and a final result."""
    await DBOS.set_event_async(WorkflowEvent.STATUS, "started")
    await DBOS.set_event_async(WorkflowEvent.PROGRESS, 0)
    results = []
    for i in range(n_steps):
        await DBOS.set_event_async(WorkflowEvent.PROGRESS, int(i / n_steps * 100))
        await DBOS.set_event_async(WorkflowEvent.STATUS, f"processing_step_{i + 1}")
        results.append(await fibonacci_step(base_number + i))
    await DBOS.set_event_async(WorkflowEvent.PROGRESS, 100)
    await DBOS.set_event_async(WorkflowEvent.STATUS, "completed")
    await DBOS.set_event_async(WorkflowEvent.RESULT, {"total_steps": n_steps,
                                                      "total_fibonacci": sum(r["fibonacci"] for r in results)})
    return results


@DBOS.workflow(name="tether.demo.workflow_with_messaging")
async def workflow_with_messaging(n_steps: int, base_number: int = MESSAGING_BASE,
                                  approval_timeout: float = 60.0) -> dict[str, Any]:
    """Waits for ``{"approved": true}`` on the notification topic, then runs its steps.

    Without an approval it ends at once, successfully, with ``"status": "rejected"`` (any other message) or
    ``"timed_out"`` (nothing within ``approval_timeout``) in its result: the workflow handled the answer, it
    was not cancelled (a cancelled workflow is the CANCELLED state, set by ``cancel_workflow``).
    """
    await DBOS.set_event_async(WorkflowEvent.STATUS, "waiting_for_approval")
    approval = await DBOS.recv_async(NOTIFICATION_TOPIC, timeout_seconds=approval_timeout)
    if approval is None:
        await DBOS.set_event_async(WorkflowEvent.STATUS, "timed_out")
        return {"status": "timed_out", "reason": f"No approval within {approval_timeout:g}s", "results": []}
    if not isinstance(approval, dict) or approval.get("approved") is not True:
        await DBOS.set_event_async(WorkflowEvent.STATUS, "rejected")
        return {"status": "rejected", "reason": "Not approved", "results": []}
    await DBOS.set_event_async(WorkflowEvent.STATUS, "approved")
    results = [await fibonacci_step(base_number + i) for i in range(n_steps)]
    await DBOS.set_event_async(WorkflowEvent.STATUS, "completed")
    return {"status": "completed", "message": approval.get("message"), "results": results}


@DBOS.workflow(name="tether.demo.workflow_with_streaming")
async def workflow_with_streaming(n_steps: int, base_number: int = STREAMING_BASE) -> list[dict[str, int]]:
    """Streams start, progress and result per step, and complete; then closes the stream."""
    await DBOS.write_stream_async(STREAM_KEY, {"timestamp": time.time(), "type": "start",
                                               "message": f"Workflow started with {n_steps} steps"})
    results = []
    for i in range(n_steps):
        await DBOS.write_stream_async(STREAM_KEY, {"timestamp": time.time(), "type": "progress", "step": i + 1,
                                                   "total_steps": n_steps,
                                                   "message": f"Starting step {i + 1}/{n_steps}"})
        result = await fibonacci_step(base_number + i)
        results.append(result)
        await DBOS.write_stream_async(STREAM_KEY, {"timestamp": time.time(), "type": "result", "step": i + 1,
                                                   "result": result})
    await DBOS.write_stream_async(STREAM_KEY, {"timestamp": time.time(), "type": "complete",
                                               "message": "Workflow completed successfully",
                                               "total_results": len(results)})
    await DBOS.close_stream_async(STREAM_KEY)
    return results
