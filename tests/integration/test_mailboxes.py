"""Mailboxes you can see (issue 16, item 4), on both backends: the messages queued for a workflow that nobody
received (topic, send time, size, the value when asked), their count per topic, from DBOS and DBOSClient, sync
and async; and the count of unread messages a workflow ended with, in its status record."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    ArgumentTypeError,
    DBOSClient,
    InvalidArgumentError,
    PendingMessage,
    SetWorkflowID,
    WorkflowNotFoundError,
    WorkflowSerializationFormat,
)
from tether.engine.clock import Clock
from tether.serialization import UndecodableValue, serialize


class SetClock(Clock):
    """A clock the test sets by hand, so that send times are exact. It starts at the real time (other
    processes' heartbeats are judged by it) and only moves a few seconds."""

    def __init__(self) -> None:
        self.ms = self.start = int(time.time() * 1000)

    def now_us(self) -> int:
        return self.ms * 1000


_release: dict[str, threading.Event] = {}


@DBOS.workflow()
def inbox(topics: list[str | None]) -> list[Any]:
    """Receives one message per topic in ``topics``, then waits on "go" (so the rest stay queued)."""
    got = [DBOS.recv(t, timeout_seconds=60) for t in topics]
    DBOS.recv("go", timeout_seconds=60)
    return got


@DBOS.workflow()
def inbox_then_fail() -> None:
    DBOS.recv("go", timeout_seconds=60)
    raise RuntimeError("failed on purpose")


@DBOS.workflow()
def inbox_then_block(key: str) -> None:
    DBOS.recv("go", timeout_seconds=60)
    looks_at_own_mailbox(key)


@DBOS.step()
def looks_at_own_mailbox(key: str) -> None:
    _release[key].wait(30)


@DBOS.workflow()
def lists_own_mailbox() -> tuple[list[PendingMessage], dict[str | None, int]]:
    wfid = DBOS.workflow_id
    assert wfid is not None
    DBOS.recv("go", timeout_seconds=60)
    return DBOS.list_pending_messages(wfid, load_values=True), DBOS.pending_message_counts(wfid)


@pytest.fixture
def clocked(db_url: str) -> Iterator[SetClock]:
    clock = SetClock()
    DBOS(config=make_config(db_url), clock=clock)
    DBOS.launch()
    try:
        yield clock
    finally:
        DBOS.destroy()


def _start(fn: Any, *args: Any) -> str:
    wfid = f"mbx-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(fn, *args)
    return wfid


def _wait_counts(wfid: str, counts: dict[str | None, int]) -> None:
    """Wait until the workflow has taken the messages it receives and ``counts`` are left."""
    for _ in range(600):
        if DBOS.pending_message_counts(wfid) == counts:
            return
        threading.Event().wait(0.05)
    assert DBOS.pending_message_counts(wfid) == counts


def test_listing_shows_topic_send_time_size_and_values_only_when_asked(clocked: SetClock) -> None:
    wfid = _start(inbox, [])
    sent = [({"amount": 12}, "payment", None), ("hello", None, "k-1"), ([1, 2, 3], "payment", None),
            ("b", "b", None)]
    t0 = clocked.start
    for i, (value, topic, key) in enumerate(sent):
        clocked.ms = t0 + 1000 * (i + 1)
        DBOS.send(wfid, value, topic, idempotency_key=key)
    listed = DBOS.list_pending_messages(wfid)
    # grouped by topic, oldest first within a topic (the order recv takes them)
    by_topic = {t: [m for m in listed if m.topic == t] for t in ("payment", None, "b")}
    assert [m.sent_at_epoch_ms for m in by_topic["payment"]] == [t0 + 1000, t0 + 3000]
    assert [m.sent_at_epoch_ms for m in by_topic[None]] == [t0 + 2000]
    assert by_topic[None][0].idempotency_key == "k-1"
    assert len(listed) == 4 and all(m.value is None for m in listed)
    assert [m.size_bytes for m in by_topic["payment"]] == [len(serialize({"amount": 12})), len(serialize([1, 2, 3]))]
    assert len({m.message_id for m in listed}) == 4
    with_values = DBOS.list_pending_messages(wfid, load_values=True)
    assert sorted(map(repr, (m.value for m in with_values))) == sorted(map(repr, (v for v, _, _ in sent)))
    assert [m.value for m in DBOS.list_pending_messages(wfid, "payment", load_values=True)] == [{"amount": 12},
                                                                                                [1, 2, 3]]
    page = DBOS.list_pending_messages(wfid, "payment", load_values=True, limit=1, offset=1)
    assert [m.value for m in page] == [[1, 2, 3]]
    assert DBOS.list_pending_messages(wfid, "nobody-sends-this") == []
    assert DBOS.pending_message_counts(wfid) == {"payment": 2, None: 1, "b": 1}
    DBOS.send(wfid, "go", "go")
    DBOS.retrieve_workflow(wfid).get_result()


def test_received_messages_leave_the_mailbox(dbos: type[DBOS]) -> None:
    wfid = _start(inbox, ["a", None])
    for value, topic in [(1, "a"), (2, "a"), ("n", None), ("x", "x")]:
        DBOS.send(wfid, value, topic)
    _wait_counts(wfid, {"a": 1, "x": 1})  # it takes one "a" and the None message, then waits on "go"
    assert [(m.topic, m.value) for m in DBOS.list_pending_messages(wfid, load_values=True)] == [("a", 2), ("x", "x")]
    assert DBOS.get_workflow_status(wfid).unread_messages_at_end is None  # type: ignore[union-attr]  # running
    DBOS.send(wfid, "go", "go")
    assert DBOS.retrieve_workflow(wfid).get_result() == [1, "n"]
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "SUCCESS" and status.unread_messages_at_end == 2
    listed = DBOS.list_workflows(workflow_ids=[wfid], load_input=False, load_output=False)
    assert listed[0].unread_messages_at_end == 2
    assert DBOS.pending_message_counts(wfid) == {"a": 1, "x": 1}  # still there to inspect
    DBOS.send(wfid, "late", "a")  # sent after the end: counted live, not in the record of the end
    assert DBOS.pending_message_counts(wfid) == {"a": 2, "x": 1}
    assert DBOS.get_workflow_status(wfid).unread_messages_at_end == 2  # type: ignore[union-attr]


def test_an_ended_workflow_records_its_unread_messages(dbos: type[DBOS]) -> None:
    clean = _start(inbox, [])
    DBOS.send(clean, "go", "go")
    DBOS.retrieve_workflow(clean).get_result()
    assert DBOS.get_workflow_status(clean).unread_messages_at_end == 0  # type: ignore[union-attr]

    failed = _start(inbox_then_fail)
    DBOS.send(failed, "left", "other")
    DBOS.send(failed, "go", "go")
    with pytest.raises(RuntimeError):
        DBOS.retrieve_workflow(failed).get_result()
    status = DBOS.get_workflow_status(failed)
    assert status is not None and status.status == "ERROR" and status.unread_messages_at_end == 1

    key = uuid.uuid4().hex
    _release[key] = threading.Event()
    cancelled = _start(inbox_then_block, key)
    for topic in ("t1", "t1", "t2"):
        DBOS.send(cancelled, "unread", topic)
    DBOS.send(cancelled, "go", "go")
    _wait_counts(cancelled, {"t1": 2, "t2": 1})  # it took "go" and waits in its step
    DBOS.cancel_workflow(cancelled)
    status = DBOS.get_workflow_status(cancelled)
    assert status is not None and status.status == "CANCELLED" and status.unread_messages_at_end == 3

    DBOS.resume_workflow(cancelled)  # to run again once its stopped execution leaves the step: not ended
    status = DBOS.get_workflow_status(cancelled)
    assert status is not None and status.status in ("PENDING", "ENQUEUED") and status.unread_messages_at_end is None
    _release[key].set()
    DBOS.retrieve_workflow(cancelled).get_result()
    status = DBOS.get_workflow_status(cancelled)
    assert status is not None and status.status == "SUCCESS" and status.unread_messages_at_end == 3


def test_async_forms(dbos: type[DBOS]) -> None:
    wfid = _start(inbox, [])
    DBOS.send(wfid, "v", "t")

    async def main() -> tuple[list[PendingMessage], dict[str | None, int]]:
        listed = await DBOS.list_pending_messages_async(wfid, "t", load_values=True)
        return listed, await DBOS.pending_message_counts_async(wfid)

    listed, counts = asyncio.run(main())
    assert [(m.topic, m.value) for m in listed] == [("t", "v")] and counts == {"t": 1}
    DBOS.send(wfid, "go", "go")
    DBOS.retrieve_workflow(wfid).get_result()


def test_client_lists_and_counts_sync_and_async(dbos: type[DBOS], db_url: str) -> None:
    wfid = _start(inbox, [])
    DBOS.send(wfid, {"portable": True}, "p", serialization_type=WorkflowSerializationFormat.PORTABLE)
    DBOS.send(wfid, "pickled", None)
    client = DBOSClient(db_url)
    try:
        listed = client.list_pending_messages(wfid, load_values=True)
        assert sorted((str(m.topic), repr(m.value)) for m in listed) == [("None", "'pickled'"),
                                                                          ("p", "{'portable': True}")]
        assert client.pending_message_counts(wfid) == {"p": 1, None: 1}

        async def main() -> tuple[list[PendingMessage], dict[str | None, int]]:
            return (await client.list_pending_messages_async(wfid, "p"),
                    await client.pending_message_counts_async(wfid))

        listed, counts = asyncio.run(main())
        assert [m.topic for m in listed] == ["p"] and listed[0].value is None and counts == {"p": 1, None: 1}
        with pytest.raises(WorkflowNotFoundError):
            client.list_pending_messages(f"nobody-{uuid.uuid4()}")
    finally:
        client.destroy()
    DBOS.send(wfid, "go", "go")
    DBOS.retrieve_workflow(wfid).get_result()


def test_an_undecodable_value_is_marked_and_the_rest_listed(dbos: type[DBOS]) -> None:
    mod = types.ModuleType("tether_test_mailbox_vanishing")
    exec("class Gone:\n    pass\n", mod.__dict__)
    sys.modules[mod.__name__] = mod
    wfid = _start(inbox, [])
    DBOS.send(wfid, mod.Gone(), "t")
    DBOS.send(wfid, "fine", "t")
    del sys.modules[mod.__name__]  # the code that pickled it is gone
    listed = DBOS.list_pending_messages(wfid, load_values=True)
    assert isinstance(listed[0].value, UndecodableValue) and "tether_test_mailbox_vanishing" in listed[0].value.reason
    assert listed[1].value == "fine"
    assert [m.value for m in DBOS.list_pending_messages(wfid)] == [None, None]  # without values: nothing decoded
    DBOS.send(wfid, "go", "go")
    DBOS.retrieve_workflow(wfid).get_result()


def test_bad_input_is_refused_with_documented_errors(dbos: type[DBOS]) -> None:
    wfid = _start(inbox, [])
    bad: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"workflow_id": "a\x00b"}, InvalidArgumentError),
        ({"workflow_id": ""}, InvalidArgumentError),
        ({"workflow_id": 42}, ArgumentTypeError),
        ({"workflow_id": wfid, "topic": 7}, ArgumentTypeError),
        ({"workflow_id": wfid, "topic": "x\x00"}, InvalidArgumentError),
        ({"workflow_id": wfid, "load_values": "yes"}, ArgumentTypeError),
        ({"workflow_id": wfid, "limit": -1}, InvalidArgumentError),
        ({"workflow_id": wfid, "offset": 1.5}, ArgumentTypeError),
        ({"workflow_id": f"nobody-{uuid.uuid4()}"}, WorkflowNotFoundError),
    ]
    for kwargs, error in bad:
        with pytest.raises(error):
            DBOS.list_pending_messages(**kwargs)
    with pytest.raises(InvalidArgumentError):
        DBOS.pending_message_counts("a\x00b")
    with pytest.raises(WorkflowNotFoundError):
        DBOS.pending_message_counts(f"nobody-{uuid.uuid4()}")
    assert DBOS.list_pending_messages(wfid) == [] and DBOS.pending_message_counts(wfid) == {}
    DBOS.send(wfid, "go", "go")
    DBOS.retrieve_workflow(wfid).get_result()


def test_from_a_workflow_the_listing_is_a_recorded_operation(dbos: type[DBOS]) -> None:
    wfid = _start(lists_own_mailbox)
    DBOS.send(wfid, "kept", "k")
    DBOS.send(wfid, "go", "go")
    listed, counts = DBOS.retrieve_workflow(wfid).get_result()
    assert [(m.topic, m.value) for m in listed] == [("k", "kept")] and counts == {"k": 1}
    names = [s["function_name"] for s in DBOS.list_workflow_steps(wfid)]
    assert "DBOS.listPendingMessages" in names and "DBOS.pendingMessageCounts" in names


@DBOS.workflow()
async def lists_own_mailbox_async() -> dict[str | None, int]:
    wfid = DBOS.workflow_id
    assert wfid is not None
    await DBOS.recv_async("go", timeout_seconds=60)
    listed = await DBOS.list_pending_messages_async(wfid, "k", load_values=True)
    assert [m.value for m in listed] == ["kept"]
    return await DBOS.pending_message_counts_async(wfid)


def test_from_an_async_workflow_too(dbos: type[DBOS]) -> None:
    wfid = _start(lists_own_mailbox_async)
    DBOS.send(wfid, "kept", "k")
    DBOS.send(wfid, "go", "go")
    assert DBOS.retrieve_workflow(wfid).get_result() == {"k": 1}
    names = [s["function_name"] for s in DBOS.list_workflow_steps(wfid)]
    assert "DBOS.listPendingMessages" in names and "DBOS.pendingMessageCounts" in names


def test_max_recovery_attempts_exceeded_records_the_unread_count_too(dbos: type[DBOS]) -> None:
    """Recovery ends a workflow that crashed too often with set_status, as cancellation does: the count is
    taken in that statement as well."""
    wfid = _start(inbox, [])
    DBOS.send(wfid, "a", "x")
    DBOS.send(wfid, "b", None)
    rt = DBOS._runtime
    assert rt is not None
    assert rt.store.set_status([wfid], "MAX_RECOVERY_ATTEMPTS_EXCEEDED", rt.clock.now_ms(),
                               only_from=["PENDING"]) == [wfid]
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
    assert status.unread_messages_at_end == 2
    DBOS.send(wfid, "go", "go")  # its execution (still waiting here) takes "go"; its end is not recorded again
    DBOS.retrieve_workflow(wfid).get_status()
