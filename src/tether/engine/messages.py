"""Messages: per-(workflow, topic) FIFO queues with exactly-once delivery into workflows."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from tether.engine import tracing, validation
from tether.engine.context import (
    WorkflowContext,
    current_step,
    require_workflow,
    take_assigned_id,
    workflow_for_operation,
)
from tether.engine.handoff import CLAIMED, HANDED, Slot
from tether.engine.inflight import CancelShield
from tether.engine.runtime import Runtime
from tether.errors import WorkflowCancelledError
from tether.serialization import deserialize, serialize
from tether.storage.base import NULL_TOPIC, Delivery, OperationRow, OutgoingMessage
from tether.storage.checkpoints import RecordOperation
from tether.types import WorkflowSerializationFormat


def topic_key(topic: str | None) -> str:
    if topic is None:
        return NULL_TOPIC
    return validation.text(getattr(topic, "value", topic), "topic", empty=True)  # a str Enum stands for its value


def sending_operation(rt: Runtime, ctx: WorkflowContext, function_name: str) -> tuple[str, OperationRow] | None:
    """The operation a send from workflow ``ctx`` records in the sending transaction (its checkpoint), or None
    when an earlier execution already recorded it, so nothing is to be sent again."""
    fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return None
    now = rt.clock.now_ms()
    return ctx.workflow_id, OperationRow(function_id=fid, function_name=function_name, started_at=now,
                                         completed_at=now)


async def send(rt: Runtime, destination_id: str, message: Any, topic: str | None, *,
               idempotency_key: str | None = None,
               serialization_type: WorkflowSerializationFormat | None = None, send_to_forks: bool = False) -> None:
    """Queue ``message`` for ``destination_id``.

    From a workflow the send is a checkpointed operation (recovery does not send again). From plain code an
    idempotency key (or the ID of an enclosing ``SetWorkflowID``) makes repeated sends deliver once. With
    ``send_to_forks`` the message also goes to every workflow forked, directly or not, from the destination.

    Raises:
        NonExistentWorkflowError: no workflow has ``destination_id``.
        SerializationError: the message cannot be serialized (nothing is written).
        InvalidArgumentError, ArgumentTypeError: a bad ID, topic or idempotency key (see
            :mod:`tether.engine.validation`); nothing is written.
    """
    validation.workflow_id(destination_id, "destination_id")
    key = topic_key(topic)
    validation.optional_text(idempotency_key, "idempotency_key")
    payload = serialize(message, serialization_type)
    ctx = workflow_for_operation("send")
    sender = None
    if ctx is not None:
        sender = sending_operation(rt, ctx, "DBOS.send")
        if sender is None:
            return  # an earlier execution sent it
        tracing.event("DBOS.send", sender[1].function_id, destinationID=destination_id, topic=topic)
    elif idempotency_key is None and current_step() is None:
        idempotency_key = take_assigned_id()
    if send_to_forks:  # also to every workflow forked, directly or not, from the destination
        delivered = await rt.io(rt.store.send_messages, [OutgoingMessage(destination_id, key, payload,
                                                                         idempotency_key)],
                                rt.clock.now_ms(), sender=sender, send_to_forks=True)
        for dest, topic_name in delivered:
            rt.notify("msg", dest, topic_name)
        return
    slot = rt.handoffs.claim(destination_id, key)
    if slot is not None:  # the receiver is parked here: record the message as its recv (engine/handoff.py)
        await _hand(rt, slot, destination_id, key, payload, idempotency_key, sender)
        return
    sent = await rt.io(rt.store.send_message, destination_id, key, payload, rt.clock.now_ms(),
                       idempotency_key=idempotency_key, sender=sender)
    if sent:
        rt.notify("msg", destination_id, key)


async def _hand(rt: Runtime, slot: Slot, destination_id: str, key: str, payload: bytes,
                idempotency_key: str | None, sender: tuple[str, OperationRow] | None) -> None:
    """Send to a claimed slot: the message becomes the recv's output (or is queued, as the store decides),
    then the receiver is woken to take it. The slot is settled whatever happens, so the receiver never waits
    on a sender that failed.

    It is settled by the statement's own thread as each try ends, not by this coroutine: a cancelled sender
    does not stop a statement already running in the pool, and had the receiver been woken at the cancel, it
    would look again before that statement commits and then wait, unwoken, until its deadline. A call still
    queued when the sender is cancelled never runs, so the cancel settles too (a second settle of a slot is
    harmless: the database decides, and the receiver only looks once more)."""
    receiver = OperationRow(function_id=slot.function_id, function_name="DBOS.recv", started_at=slot.started_at)
    now = rt.clock.now_ms()

    def settle(delivery: Delivery | None) -> None:
        rt.handoffs.settle(slot, payload if delivery is Delivery.HANDED else None)
        rt.notify("msg", destination_id, key)

    def hand() -> None:
        delivery = None
        try:
            delivery = rt.store.hand_message(destination_id, key, payload, now, receiver,
                                             idempotency_key=idempotency_key, sender=sender)
        finally:
            settle(delivery)

    try:
        await rt.io(hand)
    except asyncio.CancelledError:
        settle(None)
        raise


async def recv(rt: Runtime, topic: str | None, timeout_seconds: float) -> Any:
    """Take the next message on ``topic`` for the calling workflow, waiting up to the timeout (None then).

    Two operations are recorded, as DBOS records them: ``DBOS.recv`` (the message taken, in the same
    transaction as taking it) and, right after it, ``DBOS.sleep`` holding the deadline, so that a recovered
    workflow waits only for what remained of it.

    Raises:
        NotInWorkflowError: not called from a workflow.
        InvalidArgumentError, ArgumentTypeError: a bad topic or timeout (see :mod:`tether.engine.validation`).
    """
    ctx = require_workflow("DBOS.recv")
    key = topic_key(topic)
    timeout_seconds = validation.wait_seconds(timeout_seconds)
    fid = ctx.next_function_id()
    sleep_fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return deserialize(rec.output)
    started = rt.clock.now_ms()
    slept = ctx.recorded.get(sleep_fid)
    if slept is not None and slept.output is not None:
        deadline = int(deserialize(slept.output))
    elif rec is not None and rec.wait_deadline is not None:
        deadline = rec.wait_deadline  # recorded by an older version, before the sleep row existed
    else:
        deadline = started + int(timeout_seconds * 1000)
    wfid = ctx.workflow_id
    sleep_row = None if slept is not None else OperationRow(
        function_id=sleep_fid, function_name="DBOS.sleep", output=serialize(deadline), started_at=started,
        completed_at=started)

    slot: Slot | None = None
    shield = CancelShield(rt)  # a cancel mid-take does not lose the message taken (engine/inflight.py)

    async def take() -> bytes | None:
        nonlocal sleep_row, slot
        if wfid in rt.cancelled:
            raise WorkflowCancelledError(wfid)
        if slot is not None:  # a sender in this process may have handed the message over (engine/handoff.py)
            state = rt.handoffs.close(slot)
            if state == HANDED:
                return slot.payload
            if state == CLAIMED:
                return None  # its statement is in flight; the sender wakes this wait when it has settled
            slot = None
        op = OperationRow(function_id=fid, function_name="DBOS.recv", started_at=started,
                          completed_at=rt.clock.now_ms())
        got = await shield.io(functools.partial(rt.store.consume_message, wfid, key, op, also=sleep_row))
        sleep_row = None  # the deadline is recorded now, with the message or before the wait
        if got is None:
            shield.check()
            slot = rt.handoffs.open(wfid, key, fid, started)
        return got

    # The first take is made with the waiter registered already: a message sent between it and the wait
    # wakes it, and a recv that has to wait costs one statement before it parks.
    try:
        # The mark (the recv's function_id) lets the batched re-check also wake it when a hand-off recorded
        # the recv without a notification reaching it (one from a process that lost the workflow meanwhile).
        got = await rt.wait_until([("msg", wfid, key), ("wf", wfid, "")], take, deadline,
                                  marks={("msg", wfid, key): fid})
    except asyncio.CancelledError:
        got = None if slot is None or rt.destroyed else await _handed_anyway(rt, slot)
        if got is None:
            raise
        shield.cancelled = True
    finally:
        if slot is not None:
            rt.handoffs.abandon(slot)
    shield.withdraw()
    tracing.event("DBOS.recv", fid, topic=topic)
    if got is None:
        prior = await rt.checkpoint(RecordOperation(wfid, OperationRow(
            function_id=fid, function_name="DBOS.recv", output=serialize(None), started_at=started,
            completed_at=rt.clock.now_ms())))
        return deserialize(prior.output) if prior is not None else None
    return deserialize(got)


async def _handed_anyway(rt: Runtime, slot: Slot) -> bytes | None:
    """A recv cancelled while parked: the message a sender's hand-off recorded into it anyway (waiting for a
    hand-off still in flight to settle), or None. Only the sender can tell: its statement runs on after the
    recv leaves, and records the message as the recv's output when nothing else was recorded for it.

    Raises:
        CancelledError: another cancel while waiting for the hand-off.
    """
    if rt.handoffs.close(slot) == CLAIMED:  # the sender settles the slot when its statement ends, then wakes us
        async def settled() -> bool | None:
            return True if slot.state != CLAIMED else None
        wfid, key = slot.key
        await rt.wait_until([("msg", wfid, key)], settled, None)
    return slot.payload if slot.state == HANDED else None
