"""Messages: per-topic FIFO queues, timeouts, idempotency, exactly-once from workflows (both backends)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from tether import DBOS, SetWorkflowID


@DBOS.workflow()
def receiver(topics: list[str | None], timeout: float) -> list[object]:
    return [DBOS.recv(t, timeout_seconds=timeout) for t in topics]


def _start_receiver(topics: list[str | None], timeout: float = 10) -> str:
    wfid = f"rx-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(receiver, topics, timeout)
    return wfid


def test_messages_queue_per_topic_in_order(dbos: type[DBOS]) -> None:
    wfid = f"rx-{uuid.uuid4()}"
    # Messages sent before recv is called wait for it; topic None is a queue of its own.
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(receiver, ["a", "a", None, "b", "a"], 10)
    for value, topic in [(1, "a"), ("none", None), (2, "a"), ("bee", "b"), (3, "a")]:
        DBOS.send(wfid, value, topic)
    assert handle.get_result() == [1, 2, "none", "bee", 3]


def test_recv_times_out_with_none(dbos: type[DBOS]) -> None:
    wfid = _start_receiver(["never"], timeout=0.2)
    started = time.monotonic()
    assert DBOS.get_result(wfid) == [None]
    assert time.monotonic() - started < 5


def test_recv_wakes_on_send(dbos: type[DBOS]) -> None:
    wfid = _start_receiver(["wake"], timeout=30)
    time.sleep(0.2)  # let it park in recv; the send below must wake it well before its 30 s timeout
    sent_at = time.monotonic()
    DBOS.send(wfid, "now", "wake")
    assert DBOS.retrieve_workflow(wfid).get_result() == ["now"]
    assert time.monotonic() - sent_at < 5


def test_idempotency_key_delivers_once(dbos: type[DBOS]) -> None:
    wfid = _start_receiver(["t", "t"], timeout=1)
    for _ in range(3):
        DBOS.send(wfid, "once", "t", idempotency_key="payment-42")
    DBOS.send(wfid, "second", "t")
    assert DBOS.get_result(wfid) == ["once", "second"]


def test_set_workflow_id_around_send_is_exactly_once(dbos: type[DBOS]) -> None:
    wfid = _start_receiver(["t", "t"], timeout=1)
    for _ in range(3):
        with SetWorkflowID("webhook-call-7"):
            DBOS.send(wfid, "paid", "t")
    assert DBOS.get_result(wfid) == ["paid", None]


def test_send_from_workflow_is_checkpointed(dbos: type[DBOS]) -> None:
    target = _start_receiver(["t", "t"], timeout=1)

    @DBOS.workflow()
    def sender(dest: str) -> str:
        DBOS.send(dest, "from-workflow", "t")
        return "sent"

    sender_id = f"tx-{uuid.uuid4()}"
    with SetWorkflowID(sender_id):
        sender(target)
    with SetWorkflowID(sender_id):  # same ID: replayed, not sent again
        sender(target)
    assert DBOS.get_result(target) == ["from-workflow", None]


def test_async_recv_and_send(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def async_receiver() -> list[object]:
        first = await DBOS.recv_async("x", timeout_seconds=10)
        second = await DBOS.recv_async(timeout_seconds=10)
        return [first, second]

    async def main() -> list[object]:
        handle = await DBOS.start_workflow_async(async_receiver)
        await DBOS.send_async(handle.workflow_id, "no topic")
        await DBOS.send_async(handle.workflow_id, {"x": 1}, "x")
        return await handle.get_result()

    assert asyncio.run(main()) == [{"x": 1}, "no topic"]


def test_concurrent_senders_all_delivered(dbos: type[DBOS]) -> None:
    n = 20
    wfid = _start_receiver(["c"] * n, timeout=10)

    def send(i: int) -> None:
        DBOS.send(wfid, i, "c")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = DBOS.get_result(wfid)
    assert sorted(got) == list(range(n))


def test_a_waiting_recv_has_recorded_its_deadline_before_it_waits(dbos: type[DBOS]) -> None:
    # The deadline (the DBOS.sleep row after the recv's own number) is written by the same statement that
    # found no message, before the wait: a recovered recv waits only for what remains of it.
    wfid = _start_receiver(["late"], timeout=600)
    steps: list[dict[str, object]] = []
    for _ in range(3000):  # no message is ever sent before the row shows: only the wait's own write makes it
        steps = list(DBOS.list_workflow_steps(wfid))
        if steps:
            break
        time.sleep(0.01)
    assert [(s["function_id"], s["function_name"]) for s in steps] == [(2, "DBOS.sleep")]
    assert DBOS.get_workflow_status(wfid).status == "PENDING"  # still waiting
    DBOS.send(wfid, "now", "late")
    assert DBOS.get_result(wfid) == ["now"]
    names = [(s["function_id"], s["function_name"]) for s in DBOS.list_workflow_steps(wfid)]
    assert names == [(1, "DBOS.recv"), (2, "DBOS.sleep")]
