"""Streams: ordered, append-only, closed explicitly or by the workflow's end; offsets and polling reads."""

from __future__ import annotations

import asyncio
import threading
import uuid

from tether import DBOS, SetWorkflowID


@DBOS.workflow()
def producer(key: str, n: int, close: bool) -> int:
    for i in range(n):
        DBOS.write_stream(key, {"i": i})
    if close:
        DBOS.close_stream(key)
    DBOS.recv("finish", timeout_seconds=10)
    return n


def test_reader_started_before_first_write_sees_everything_in_order(dbos: type[DBOS]) -> None:
    wfid = f"st-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        pass
    got: list[object] = []
    # Start the workflow and a reader at once; the reader may get there before the first write.
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(producer, "k", 50, True)
    reader = threading.Thread(target=lambda: got.extend(DBOS.read_stream(wfid, "k")))
    reader.start()
    reader.join(timeout=30)
    assert got == [{"i": i} for i in range(50)]
    DBOS.send(wfid, 1, "finish")
    assert handle.get_result() == 50


def test_stream_closes_when_workflow_ends(dbos: type[DBOS]) -> None:
    handle = DBOS.start_workflow(producer, "open", 3, False)
    DBOS.send(handle.workflow_id, 1, "finish")
    handle.get_result()
    assert list(DBOS.read_stream(handle.workflow_id, "open")) == [{"i": 0}, {"i": 1}, {"i": 2}]
    snapshot = DBOS.read_stream_nowait(handle.workflow_id, "open")
    assert snapshot.closed and snapshot.next_offset == 3


def test_many_keys_and_concurrent_readers(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def multi() -> None:
        for i in range(10):
            DBOS.write_stream("a", i)
            DBOS.write_stream("b", -i)
        DBOS.close_stream("a")
        DBOS.close_stream("b")

    handle = DBOS.start_workflow(multi)
    results: dict[int, list[object]] = {}

    def read(n: int, key: str) -> None:
        results[n] = list(DBOS.read_stream(handle.workflow_id, key))

    threads = [threading.Thread(target=read, args=(n, "a" if n % 2 else "b")) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for n, values in results.items():
        assert values == (list(range(10)) if n % 2 else [-i for i in range(10)])
    assert len(results) == 6


def test_offsets_and_nowait_reads(dbos: type[DBOS]) -> None:
    handle = DBOS.start_workflow(producer, "p", 5, False)
    wfid = handle.workflow_id
    first = DBOS.read_stream_nowait(wfid, "p")
    while first.next_offset < 5:
        first = DBOS.read_stream_nowait(wfid, "p")
    assert first.values == [{"i": i} for i in range(5)] and not first.closed
    assert DBOS.read_stream_nowait(wfid, "p", offset=3).values == [{"i": 3}, {"i": 4}]
    empty = DBOS.read_stream_nowait(wfid, "p", offset=5)
    assert empty.values == [] and not empty.closed
    DBOS.send(wfid, 1, "finish")
    handle.get_result()
    assert list(DBOS.read_stream(wfid, "p", offset=2)) == [{"i": 2}, {"i": 3}, {"i": 4}]
    assert DBOS.read_stream_nowait(wfid, "p", offset=5).closed


def test_a_retried_steps_writes_are_stored_once_each_distinct_value_kept(dbos: type[DBOS]) -> None:
    """See tests/integration/test_step_streams.py for the whole promise."""
    tries: list[int] = []

    @DBOS.step(retries_allowed=True, interval_seconds=0.01, max_attempts=3)
    def writes_then_fails() -> str:
        tries.append(1)
        DBOS.write_stream("log", f"try {len(tries)}")
        if len(tries) < 2:
            raise RuntimeError("flaky")
        return "ok"

    @DBOS.workflow()
    def wf() -> str:
        DBOS.write_stream("log", "start")
        return writes_then_fails()

    handle = DBOS.start_workflow(wf)
    assert handle.get_result() == "ok"
    assert list(DBOS.read_stream(handle.workflow_id, "log")) == ["start", "try 1", "try 2"]


def test_workflow_writes_are_exactly_once_on_replay(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def writer() -> None:
        DBOS.write_stream("s", 1)
        DBOS.write_stream("s", 2)

    wfid = f"once-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        writer()
    with SetWorkflowID(wfid):
        writer()
    assert list(DBOS.read_stream(wfid, "s")) == [1, 2]


def test_async_stream_reader(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    async def async_producer() -> None:
        for i in range(5):
            await DBOS.write_stream_async("a", i)
            await DBOS.sleep_async(0.01)
        await DBOS.close_stream_async("a")

    async def main() -> list[object]:
        handle = await DBOS.start_workflow_async(async_producer)
        values = [v async for v in DBOS.read_stream_async(handle.workflow_id, "a")]
        snapshot = await DBOS.read_stream_nowait_async(handle.workflow_id, "a", 4)
        assert snapshot.values == [4] and snapshot.closed
        return values

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_cancel_reads_as_closed_and_resume_reopens_and_grows(dbos: type[DBOS]) -> None:
    """As docs/guarantees.md says: a cancelled workflow's open stream reads as closed; resumed, it continues
    after the values already written, none lost or repeated."""
    from .test_http_gateway import CMD, start_driven

    w = start_driven()
    DBOS.send(w, {"op": "write", "value": "before"}, CMD)
    DBOS.send(w, {"op": "event", "key": "written", "value": 1}, CMD)
    assert DBOS.get_event(w, "written", timeout_seconds=60) == 1
    DBOS.cancel_workflow(w)
    snap = DBOS.read_stream_nowait(w, "s")
    assert (snap.values, snap.closed) == (["before"], True)
    assert list(DBOS.read_stream(w, "s")) == ["before"]  # returns: the workflow has ended, for now
    DBOS.resume_workflow(w)
    DBOS.send(w, {"op": "write", "value": "after"}, CMD)
    DBOS.send(w, {"op": "event", "key": "written again", "value": 2}, CMD)
    assert DBOS.get_event(w, "written again", timeout_seconds=60) == 2
    snap = DBOS.read_stream_nowait(w, "s")
    assert (snap.values, snap.closed) == (["before", "after"], False)
    DBOS.send(w, {"op": "close"}, CMD)
    assert list(DBOS.read_stream(w, "s")) == ["before", "after"]
    assert DBOS.read_stream_nowait(w, "s").closed
