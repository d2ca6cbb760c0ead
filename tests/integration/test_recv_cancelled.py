"""A ``recv_async`` (or ``select_async``) cancelled while the statement that takes its message is in flight
(its own take, or a sender's hand-off into it) does not lose the message: the statement records the message
as that recv's output whatever the cancel does, so the recv returns it, as an operation that finished before
the cancel arrived. A cancel that finds nothing taken stands. Both backends; the statement is held in the
database (a row lock on PostgreSQL, the write lock on SQLite) until the cancel has been delivered."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from tether import DBOS, SetWorkflowID
from tether.selection import on_message

go = threading.Event()
cancel_now = threading.Event()
cancel_sent = threading.Event()


@pytest.fixture(autouse=True)
def _events() -> Iterator[None]:
    for e in (go, cancel_now, cancel_sent):
        e.clear()
    yield
    for e in (go, cancel_now):
        e.set()  # nothing is left waiting on a failed test


@DBOS.workflow()
async def recv_cancelled_by_its_caller(select: bool) -> list[object]:
    await asyncio.to_thread(go.wait, 30)
    waiting = DBOS.select_async([on_message("t")], 30) if select else DBOS.recv_async("t", 30)
    task = asyncio.ensure_future(waiting)
    await asyncio.to_thread(cancel_now.wait, 30)
    task.cancel()
    cancel_sent.set()
    try:
        got = await task
        first = got.value if select else got
    except asyncio.CancelledError:
        first = "cancelled"
    second = await DBOS.recv_async("t", 0.5)
    return [first, second]


def _in_flight(function_name: str) -> bool:
    """Some thread is inside ``function_name`` (a store method), i.e. its statement is running."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == function_name:
                return True
            frame = frame.f_back  # type: ignore[assignment]
    return False


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@contextmanager
def _writes_held(db_url: str, wfid: str) -> Iterator[None]:
    """Hold the recv's write in the database: on PostgreSQL a lock on the workflow's row (which the
    checkpoint's foreign key must share), on SQLite the database's write lock."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    with psycopg.connect(db_url) as pg:
        pg.execute("SELECT 1 FROM tether.workflow_status WHERE workflow_uuid = %s FOR UPDATE", (wfid,))
        yield
        pg.commit()


def _start(select: bool = False) -> tuple[str, object]:
    wfid = f"rx-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(recv_cancelled_by_its_caller, select)
    _wait_for(lambda: DBOS.get_workflow_status(wfid) is not None, "the workflow never started")
    return wfid, handle


@pytest.mark.parametrize("select", [False, True], ids=["recv", "select"])
def test_a_recv_cancelled_while_its_take_is_in_flight_returns_the_message(dbos: type[DBOS], db_url: str,
                                                                          select: bool) -> None:
    wfid, handle = _start(select)
    DBOS.send(wfid, "m", "t")  # queued: nobody receives yet
    statement = "take_selected_message" if select else "consume_message"
    with _writes_held(db_url, wfid):
        go.set()
        _wait_for(lambda: _in_flight(statement), "the take never reached the database")
        cancel_now.set()
        assert cancel_sent.wait(15)
        time.sleep(0.05)  # the cancel reaches the recv's await
    assert handle.get_result() == ["m", None]  # type: ignore[attr-defined]
    assert DBOS.list_pending_messages(wfid) == []


def test_a_recv_cancelled_while_a_hand_off_into_it_is_in_flight_returns_the_message(dbos: type[DBOS],
                                                                                     db_url: str) -> None:
    for _ in range(5):
        if _cancel_during_a_hand_off(db_url):
            return
    pytest.fail("in five tries the send never found the recv parked, so no hand-off was made")


def _cancel_during_a_hand_off(db_url: str) -> bool:
    """One try: False when the send did not find the recv parked (a wake-up, such as a re-check, had the
    recv look at the database just before, so the send queued the message instead). That try still must
    lose nothing, and the test tries again with a new workflow."""
    for e in (go, cancel_now, cancel_sent):
        e.clear()
    wfid, handle = _start()
    go.set()
    rt = DBOS._rt()
    _wait_for(lambda: (wfid, "t") in rt.handoffs._slots, "the recv never parked")
    sent = threading.Event()
    with _writes_held(db_url, wfid):
        threading.Thread(target=lambda: (DBOS.send(wfid, "m", "t"), sent.set()), daemon=True).start()
        _wait_for(lambda: _in_flight("hand_message") or _in_flight("send_message"),
                  "the send never reached the database")
        handed = _in_flight("hand_message")
        cancel_now.set()
        assert cancel_sent.wait(15)
        time.sleep(0.05)
    assert sent.wait(15)
    result = handle.get_result()  # type: ignore[attr-defined]
    assert DBOS.list_pending_messages(wfid) == []
    if not handed:
        assert result in (["m", None], ["cancelled", "m"])  # the message is received once, either way
        return False
    assert result == ["m", None]
    return True


@DBOS.workflow()
async def gives_up_on_a_recv() -> list[object]:
    try:
        first = await asyncio.wait_for(DBOS.recv_async("t", 30), 0.2)
    except asyncio.TimeoutError:
        first = "timed out"
    cancel_sent.set()
    second = await DBOS.recv_async("t", 30)
    return [first, second]


def test_a_cancel_that_finds_nothing_taken_stands(dbos: type[DBOS]) -> None:
    wfid = f"rx-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(gives_up_on_a_recv)
    assert cancel_sent.wait(15)
    DBOS.send(wfid, "m", "t")  # for the next recv: the cancelled one took nothing
    assert handle.get_result() == ["timed out", "m"]
