"""Hand-off (engine/handoff.py): a send to a recv parked in this process records the message as that recv's
output in the sender's own transaction; what is stored is what a queued send and a take would store, and every
race the in-process routing cannot see is decided by the database. A set_event hands the value it committed to
the get_event readers parked here. Both backends."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tether import DBOS, SetWorkflowID
from tether.config import parse_database_url
from tether.engine.handoff import CLAIMED
from tether.errors import NonExistentWorkflowError
from tether.serialization import serialize
from tether.storage import open_store
from tether.storage.base import Delivery, OperationRow, Store


@DBOS.workflow()
def parked_receiver(count: int, timeout: float) -> list[object]:
    return [DBOS.recv("t", timeout_seconds=timeout) for _ in range(count)]


@DBOS.workflow()
def sends_once(destination: str, value: str) -> None:
    DBOS.send(destination, value, "t")


def _start(count: int = 1, timeout: float = 30) -> str:
    wfid = f"rx-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(parked_receiver, count, timeout)
    return wfid


def _wait_parked(wfid: str) -> None:
    """Until the receiver's recv has found its topic empty and opened its slot."""
    rt = DBOS._rt()
    deadline = time.monotonic() + 10
    while (wfid, "t") not in rt.handoffs._slots:
        assert time.monotonic() < deadline, "the receiver never parked"
        time.sleep(0.005)


@pytest.fixture
def store(dbos: type[DBOS], db_url: str) -> Iterator[Store]:
    opened = open_store(parse_database_url(db_url))
    try:
        yield opened
    finally:
        opened.close()


def test_send_to_a_parked_recv_is_handed_over_and_stored_as_a_take_stores_it(dbos: type[DBOS]) -> None:
    handed = _start()
    _wait_parked(handed)
    DBOS.send(handed, {"n": 1}, "t")
    # The send recorded the recv itself: the receiver's slot is gone before it even ran again.
    assert (handed, "t") not in DBOS._rt().handoffs._slots
    assert DBOS.get_result(handed) == [{"n": 1}]

    queued = _start()
    DBOS.send(queued, {"n": 1}, "t")  # most likely before it parks: queued, then taken
    assert DBOS.get_result(queued) == [{"n": 1}]

    def shape(wfid: str) -> list[tuple[int, str, object]]:
        return [(s["function_id"], s["function_name"], s["output"] if s["function_name"] == "DBOS.recv" else None)
                for s in DBOS.list_workflow_steps(wfid)]  # (a DBOS.sleep's output is its own deadline)

    assert shape(handed) == shape(queued)
    assert DBOS.list_workflow_steps(handed)[0]["completed_at_epoch_ms"] is not None
    assert DBOS.list_pending_messages(handed) == DBOS.list_pending_messages(queued) == []


def test_many_senders_to_a_parked_receiver_deliver_each_message_once(dbos: type[DBOS]) -> None:
    per_sender, senders = 25, 4
    wfid = _start(count=per_sender * senders, timeout=60)
    errors: list[BaseException] = []

    def send_all(sender: int) -> None:
        try:
            for i in range(per_sender):
                DBOS.send(wfid, f"{sender}-{i}", "t")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send_all, args=(s,)) for s in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    got = DBOS.get_result(wfid)
    assert sorted(got) == sorted(f"{s}-{i}" for s in range(senders) for i in range(per_sender))
    for s in range(senders):  # each sender's messages arrive in the order it sent them
        assert [m for m in got if m.startswith(f"{s}-")] == [f"{s}-{i}" for i in range(per_sender)]
    assert DBOS.list_pending_messages(wfid) == []


def test_a_handed_over_send_from_a_workflow_is_exactly_once(dbos: type[DBOS]) -> None:
    wfid = _start(count=2, timeout=1)
    _wait_parked(wfid)
    sender_id = f"tx-{uuid.uuid4()}"
    with SetWorkflowID(sender_id):
        sends_once(wfid, "once")
    with SetWorkflowID(sender_id):  # the same workflow ID again: its send is recorded, nothing is sent
        sends_once(wfid, "once")
    DBOS.fork_workflow(sender_id, 2)  # a fork from after the send does not send either
    assert DBOS.get_result(wfid) == ["once", None]


def test_set_workflow_id_around_a_handed_over_send_delivers_once(dbos: type[DBOS]) -> None:
    wfid = _start(count=2, timeout=1)
    _wait_parked(wfid)
    key = f"pay-{uuid.uuid4()}"
    for _ in range(3):
        with SetWorkflowID(key):
            DBOS.send(wfid, "once", "t")
    assert DBOS.get_result(wfid) == ["once", None]


def test_recv_that_times_out_leaves_later_messages_queued(dbos: type[DBOS]) -> None:
    wfid = _start(count=1, timeout=0.2)
    assert DBOS.get_result(wfid) == [None]
    DBOS.send(wfid, "late", "t")  # the recv is over: the message is queued, not handed to anyone
    assert [m.value for m in DBOS.list_pending_messages(wfid, load_values=True)] == ["late"]
    assert not DBOS._rt().handoffs._slots


# -- the store decides ----------------------------------------------------------------------------------

def _recv_op(fid: int) -> OperationRow:
    return OperationRow(function_id=fid, function_name="DBOS.recv", started_at=1)


def test_store_hands_over_only_when_no_older_message_waits(dbos: type[DBOS], store: Store) -> None:
    wfid = _start(count=0)
    DBOS.get_result(wfid)
    assert store.hand_message(wfid, "t", b"first", 10, _recv_op(100)) is Delivery.HANDED
    assert store.pending_messages(wfid, "t", load_values=True) == []
    # A message already queued on the topic goes first: the new one is queued behind it, not handed over.
    assert store.send_message(wfid, "t", b"older", 11)
    assert store.hand_message(wfid, "t", b"newer", 12, _recv_op(101)) is Delivery.QUEUED
    queued = store.pending_messages(wfid, "t", load_values=True)
    assert queued is not None and [m.message for m in queued] == [b"older", b"newer"]
    # A recv already recorded (it timed out, or took a message itself) is never overwritten.
    assert store.hand_message(wfid, "u", b"x", 13, _recv_op(100)) is Delivery.QUEUED
    assert store.consume_message(wfid, "zz", OperationRow(function_id=100, function_name="DBOS.recv",
                                                          started_at=1, completed_at=2)) == b"first"


def test_store_hand_over_keeps_the_senders_checkpoint_and_key(dbos: type[DBOS], store: Store) -> None:
    wfid = _start(count=0)
    DBOS.get_result(wfid)
    sender_wf = _start(count=0)
    DBOS.get_result(sender_wf)
    sender = (sender_wf, OperationRow(function_id=50, function_name="DBOS.send", started_at=1, completed_at=1))
    assert store.hand_message(wfid, "t", b"a", 1, _recv_op(200), sender=sender) is Delivery.HANDED
    assert store.hand_message(wfid, "t", b"a", 1, _recv_op(201), sender=sender) is Delivery.SENT_BEFORE
    assert store.hand_message(wfid, "t", b"b", 1, _recv_op(202), idempotency_key="k") is Delivery.HANDED
    assert store.hand_message(wfid, "t", b"b", 1, _recv_op(203), idempotency_key="k") is Delivery.SENT_BEFORE
    assert store.pending_messages(wfid, "t", load_values=True) == []
    with pytest.raises(NonExistentWorkflowError):
        store.hand_message(f"missing-{uuid.uuid4()}", "t", b"c", 1, _recv_op(1))


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_take_racing_a_hand_over_that_commits_first_leaves_its_message(dbos: type[DBOS], db_url: str,
                                                                         store: Store) -> None:
    """PostgreSQL runs the two in parallel (SQLite has one writer at a time): the take that finds the recv
    recorded by the hand-off committing under it must not delete the message it picked."""
    wfid = _start(count=0)
    DBOS.get_result(wfid)
    assert store.send_message(wfid, "t", b"queued", 1)
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("SET search_path TO tether")
        conn.execute("INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, "
                     "started_at, completed_at) VALUES (%s, 300, 'DBOS.recv', %s, 1, 2)",
                     (wfid, serialize("handed")))
        took: list[bytes | None] = []
        taker = threading.Thread(target=lambda: took.append(store.consume_message(
            wfid, "t", OperationRow(function_id=300, function_name="DBOS.recv", started_at=1, completed_at=3))))
        taker.start()
        deadline = time.monotonic() + 30
        with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as watch:
            while not _blocked_on_lock(watch, "WITH picked AS"):  # the take waits on the hand-off's row
                assert time.monotonic() < deadline and taker.is_alive(), "the take never waited on the row"
                time.sleep(0.01)
        conn.commit()
        taker.join(10)
    assert took == [None]  # it recorded nothing, so it took nothing
    queued = store.pending_messages(wfid, "t", load_values=True)
    assert queued is not None and [m.message for m in queued] == [b"queued"]
    # Its next take returns what the hand-off recorded, as a retried take does.
    assert store.consume_message(wfid, "t", OperationRow(function_id=300, function_name="DBOS.recv",
                                                         started_at=1, completed_at=4)) == serialize("handed")


# -- events ---------------------------------------------------------------------------------------------

@DBOS.workflow()
def sets_when_told(key: str, values: list[str]) -> None:
    DBOS.recv("go", timeout_seconds=30)
    for value in values:
        DBOS.set_event(key, value)


@DBOS.workflow()
def waits_for_event(target: str, key: str) -> object:
    return DBOS.get_event(target, key, timeout_seconds=30)


def test_get_event_parked_here_takes_the_value_set_here(dbos: type[DBOS]) -> None:
    setter = f"set-{uuid.uuid4()}"
    with SetWorkflowID(setter):
        handle = DBOS.start_workflow(sets_when_told, "k", ["one", "two"])
    results: list[object] = []
    outside = threading.Thread(target=lambda: results.append(DBOS.get_event(setter, "k", timeout_seconds=30)))
    outside.start()
    inside = DBOS.start_workflow(waits_for_event, setter, "k")
    rt = DBOS._rt()
    deadline = time.monotonic() + 10
    while len(rt.event_board._readers.get((setter, "k"), ())) < 2:
        assert time.monotonic() < deadline, "the readers never parked"
        time.sleep(0.005)
    DBOS.send(setter, None, "go")
    handle.get_result()
    outside.join(10)
    got_inside = inside.get_result()
    assert results[0] in ("one", "two") and got_inside in ("one", "two")
    # The reader inside a workflow checkpointed what it was handed: its step history holds the same value.
    recorded = [s["output"] for s in DBOS.list_workflow_steps(inside.workflow_id)
                if s["function_name"] == "DBOS.getEvent"]
    assert recorded == [got_inside]
    assert not rt.event_board._readers
    assert DBOS.get_event(setter, "k") == "two"


def test_store_set_event_says_whether_it_wrote(dbos: type[DBOS], store: Store) -> None:
    wfid = _start(count=0)
    DBOS.get_result(wfid)
    op = OperationRow(function_id=400, function_name="DBOS.setEvent", started_at=1, completed_at=1)
    assert store.set_event(wfid, "k", b"a", 1, op, 400) is True
    assert store.set_event(wfid, "k", b"b", 2, op, 400) is False  # a replay: nothing written, nothing handed
    assert store.set_event(wfid, "k", b"c", 3, None, 7) is True   # from a step: always a new version
    assert store.get_event(wfid, "k") == b"c"


def _blocked_on_lock(conn: psycopg.Connection[tuple[object, ...]], marker: str) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s "
                       "AND datname = current_database()", (f"%{marker}%",)).fetchone()
    return row is not None and int(row[0]) > 0


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_sender_cancelled_mid_hand_over_still_wakes_the_receiver(dbos: type[DBOS], db_url: str) -> None:
    """A cancelled await does not stop the hand-off's statement in its pool thread: when it commits after the
    receiver has looked again (and found nothing), the receiver must still be woken, not left parked until its
    deadline. PostgreSQL only: the statement is held on a row lock while the receiver looks (SQLite's writers
    queue behind one lock, so the order of the two would be chance)."""
    wfid = _start(count=1, timeout=600)
    _wait_parked(wfid)
    rt = DBOS._rt()
    first = rt.handoffs._slots[(wfid, "t")]
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as blocker, \
            psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as watcher:
        blocker.execute("SELECT 1 FROM tether.workflow_status WHERE workflow_uuid = %s FOR UPDATE", (wfid,))

        async def send_then_cancel() -> None:
            task = asyncio.create_task(DBOS.send_async(wfid, "m", "t"))
            deadline = time.monotonic() + 10
            while not _blocked_on_lock(watcher, "handed AS"):  # the hand-off waits on the locked row
                assert time.monotonic() < deadline, "the hand-off never reached the database"
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(send_then_cancel())
        deadline = time.monotonic() + 10
        while True:  # the receiver looked again and parked anew, or still waits on the claimed slot
            now = rt.handoffs._slots.get((wfid, "t"))
            if first.state == CLAIMED or (now is not None and now is not first):
                break
            assert time.monotonic() < deadline, "the receiver never settled"
            time.sleep(0.005)
        blocker.commit()  # the hand-off commits now: the recv is recorded with "m"
    done = threading.Event()
    results: list[object] = []
    threading.Thread(target=lambda: (results.append(DBOS.retrieve_workflow(wfid).get_result()), done.set()),
                     daemon=True).start()
    assert done.wait(30), "the receiver was left parked until its deadline (600 s)"
    assert results == [["m"]]
    assert DBOS.list_pending_messages(wfid) == []
