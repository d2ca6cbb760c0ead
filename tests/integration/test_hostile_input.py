"""Hostile and mistaken input through the Python API, on both backends: refused with a documented error of the
library's tree before anything is written, and the same limits on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

import pytest

from tether import (
    DBOS,
    ArgumentTypeError,
    DBOSClient,
    InvalidArgumentError,
    Queue,
    SetEnqueueOptions,
    SetWorkflowID,
)
from tether.engine.validation import MAX_TEXT_BYTES

from .test_http_gateway import stored_messages

BAD_TEXT = {"nul": "victim\x00second", "surrogate": "victim\ud800", "too long": "v" * (MAX_TEXT_BYTES + 1)}
BAD_TIMEOUTS = [math.inf, 1e20, math.nan, -1.0]


@DBOS.workflow(name="test_hostile.waiter")
def waiter() -> Any:
    return DBOS.recv("t", timeout_seconds=30)


@DBOS.workflow(name="test_hostile.writer")
def writer(key: str) -> str:
    DBOS.set_event(key, "event")
    DBOS.write_stream(key, "value")
    DBOS.close_stream(key)
    got = DBOS.recv(key, timeout_seconds=30)
    return f"got {got}"


@DBOS.workflow(name="test_hostile.tries")
def tries(what: str, arg: Any) -> str:
    """Inside a workflow: the operation named ``what`` with a bad argument; returns the error's class name."""
    try:
        if what == "recv":
            DBOS.recv("t", timeout_seconds=arg)
        elif what == "sleep":
            DBOS.sleep(arg)
        elif what == "set_event":
            DBOS.set_event(arg, 1)
        elif what == "write_stream":
            DBOS.write_stream(arg, 1)
        elif what == "recv_topic":
            DBOS.recv(arg, timeout_seconds=0)
    except (InvalidArgumentError, ArgumentTypeError) as exc:
        return type(exc).__name__
    return "accepted"


def wide(size: int) -> str:
    """``size`` bytes of UTF-8 that compress badly: random three-byte characters, padded with ASCII."""
    rng = random.Random(size)
    chars = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(size // 3))
    return chars + "x" * (size - 3 * len(chars))


def started_waiter() -> str:
    w = f"victim-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(w):
        DBOS.start_workflow(waiter)
    return w


@pytest.mark.parametrize("kind", sorted(BAD_TEXT))
def test_bad_ids_keys_and_names_are_refused_before_anything_is_written(dbos: type[DBOS], db_url: str,
                                                                      kind: str) -> None:
    victim = started_waiter()
    bad = victim + BAD_TEXT[kind][len("victim"):]
    with pytest.raises(InvalidArgumentError) as caught:
        SetWorkflowID(bad)
    assert isinstance(caught.value, ValueError) and caught.value.argument == "workflow_id"
    calls = [
        lambda: DBOS.send(bad, "hi", "t"),
        lambda: DBOS.send(victim, "hi", BAD_TEXT[kind]),
        lambda: DBOS.send(victim, "hi", "t", idempotency_key=BAD_TEXT[kind]),
        lambda: DBOS.send_bulk([{"destination_id": victim, "message": "ok", "topic": "t"},
                                {"destination_id": bad, "message": "hi", "topic": "t"}]),
        lambda: DBOS.send_bulk([{"destination_id": victim, "message": "hi", "topic": "t",
                                 "idempotency_key": BAD_TEXT[kind]}]),
        lambda: DBOS.get_event(bad, "k", timeout_seconds=0),
        lambda: DBOS.get_event(victim, BAD_TEXT[kind], timeout_seconds=0),
        lambda: DBOS.get_workflow_status(bad),
        lambda: DBOS.retrieve_workflow(bad),
        lambda: DBOS.read_stream_nowait(victim, BAD_TEXT[kind]),
        lambda: DBOS.cancel_workflow(bad),
        lambda: DBOS.resume_workflow(bad),
        lambda: DBOS.fork_workflow(bad, 1),
        lambda: DBOS.list_workflows(workflow_id_prefix=bad),
        lambda: Queue(BAD_TEXT[kind]),
        lambda: DBOS.workflow(name=BAD_TEXT[kind])(lambda: None),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError):
            call()
    with DBOSClient(db_url) as client:
        with pytest.raises(InvalidArgumentError):
            client.send(bad, "hi", "t")
        with pytest.raises(InvalidArgumentError):
            client.enqueue({"queue_name": BAD_TEXT[kind], "workflow_name": "test_hostile.waiter"})
        with pytest.raises(InvalidArgumentError):
            client.enqueue({"queue_name": "q", "workflow_name": "test_hostile.waiter", "workflow_id": bad})
    with pytest.raises(InvalidArgumentError):
        SetEnqueueOptions(deduplication_id=BAD_TEXT[kind])
    # Nothing reached the victim or was created beside it.
    assert stored_messages(db_url, victim) == []
    assert [s.workflow_id for s in DBOS.list_workflows(workflow_id_prefix="victim-")
            if s.workflow_id.startswith(victim)] == [victim]
    assert DBOS.get_workflow_status(victim).status == "PENDING"  # type: ignore[union-attr]
    DBOS.send(victim, "done", "t")
    assert DBOS.retrieve_workflow(victim).get_result() == "done"


def test_bad_keys_inside_a_workflow_are_its_own_errors(dbos: type[DBOS]) -> None:
    for what, arg, expected in [("set_event", "k\x00", "InvalidArgumentError"),
                                ("write_stream", "k\ud800", "InvalidArgumentError"),
                                ("recv_topic", "t" * (MAX_TEXT_BYTES + 1), "InvalidArgumentError"),
                                ("set_event", 7, "ArgumentTypeError"),
                                ("recv", math.inf, "InvalidArgumentError"),
                                ("recv", math.nan, "InvalidArgumentError"),
                                ("recv", "5", "ArgumentTypeError"),
                                ("sleep", 1e20, "InvalidArgumentError"),
                                ("sleep", -math.inf, "InvalidArgumentError"),
                                ("sleep", -1, "accepted")]:  # as in DBOS: a negative wait is none
        assert DBOS.start_workflow(tries, what, arg).get_result() == expected, (what, arg)


def test_the_longest_accepted_ids_and_keys_work_on_both_backends(dbos: type[DBOS], db_url: str) -> None:
    """An ID and a key of MAX_TEXT_BYTES each (badly compressible) fit PostgreSQL's index side by side."""
    w = wide(MAX_TEXT_BYTES - 1) + "w"
    key = wide(MAX_TEXT_BYTES)
    assert len(w.encode()) == len(key.encode()) == MAX_TEXT_BYTES
    with SetWorkflowID(w):
        handle = DBOS.start_workflow(writer, key)
    assert DBOS.get_event(w, key, timeout_seconds=30) == "event"
    DBOS.send(w, "hi", key, idempotency_key=wide(MAX_TEXT_BYTES))
    DBOS.send(w, "again", key, idempotency_key=wide(MAX_TEXT_BYTES))  # the same key: delivered once
    assert handle.get_result() == "got hi"
    snap = DBOS.read_stream_nowait(w, key)
    assert snap.values == ["value"] and snap.closed
    assert DBOS.get_workflow_status(w).workflow_id == w  # type: ignore[union-attr]
    one_more = w + "x"
    with pytest.raises(InvalidArgumentError, match=f"at most {MAX_TEXT_BYTES}"):
        SetWorkflowID(one_more)
    with pytest.raises(InvalidArgumentError, match=f"at most {MAX_TEXT_BYTES}"):
        DBOS.send(w, "hi", key + "x")


def test_bad_numbers_get_documented_errors(dbos: type[DBOS], db_url: str) -> None:
    victim = started_waiter()
    for timeout in BAD_TIMEOUTS:
        if timeout >= 0 or math.isnan(timeout):  # a negative one counts as 0, as in DBOS
            with pytest.raises(InvalidArgumentError):
                DBOS.get_event(victim, "k", timeout_seconds=timeout)
        with pytest.raises(InvalidArgumentError):
            DBOS.retrieve_workflow(victim).get_result(timeout_seconds=timeout)
        with pytest.raises(InvalidArgumentError):
            SetEnqueueOptions(delay_seconds=timeout)
    with pytest.raises(ArgumentTypeError):
        DBOS.get_event(victim, "k", timeout_seconds="5")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError) as caught:
        DBOS.send(victim, "hi", "t", idempotency_key=42)  # type: ignore[arg-type]
    assert isinstance(caught.value, TypeError) and caught.value.argument == "idempotency_key"
    with pytest.raises(ArgumentTypeError):
        DBOS.send(victim, "hi", 42)  # type: ignore[arg-type]
    for offset in (2**63, 10**30, -1):
        with pytest.raises(InvalidArgumentError, match="offset"):
            DBOS.read_stream_nowait(victim, "s", offset)
        with pytest.raises(InvalidArgumentError):
            DBOS.list_workflow_steps(victim, offset=offset)
        with pytest.raises(InvalidArgumentError):
            DBOS.list_workflows(offset=offset)
    with pytest.raises(ArgumentTypeError):
        DBOS.read_stream_nowait(victim, "s", 1.5)  # type: ignore[arg-type]
    for step in (2**63, 10**30, -1):
        with pytest.raises(InvalidArgumentError, match="start_step"):
            DBOS.fork_workflow(victim, step)
    with DBOSClient(db_url) as client, pytest.raises(InvalidArgumentError):
        client.enqueue({"queue_name": "q", "workflow_name": "test_hostile.waiter", "delay_seconds": math.inf})
    assert stored_messages(db_url, victim) == []
    assert len(DBOS.list_workflows(forked_from=victim)) == 0
    DBOS.send(victim, "done", "t")
    assert DBOS.retrieve_workflow(victim).get_result() == "done"
