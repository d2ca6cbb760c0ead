"""Stream writes from steps are exactly-once per step call (issue #16 item 3), on both backends.

The n-th write of a step call to a key is stored once, however many attempts make it; an attempt that writes
more than an earlier one appends the extra values, one that writes fewer leaves the earlier ones; values stay
visible to readers while the step runs, and no reader (sync, async, client, SSE) ever sees one twice.
Crash tests (a SIGKILLed process re-running a step) are in tests/crash/test_crash_recovery.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tether import DBOS, DBOSClient, SetWorkflowID
from tether.config import parse_database_url
from tether.engine.streams import value_digest
from tether.errors import MaxStepRetriesExceeded, StreamClosedError
from tether.http import create_gateway
from tether.http.server import ServerThread
from tether.http.sse_client import parse_sse
from tether.storage import open_store

SSE = {"Accept": "text/event-stream"}


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Readers:
    """Four readers of one stream following it live from offset 0: sync, async, a DBOSClient, and SSE over a
    real socket. Each keeps what it saw, in order."""

    def __init__(self, db_url: str, gateway_url: str, workflow_id: str, key: str) -> None:
        self.seen: dict[str, list[Any]] = {"sync": [], "async": [], "client": [], "sse": []}
        self.errors: list[BaseException] = []
        self.sse_ready = threading.Event()

        def sync() -> None:
            self.seen["sync"].extend(DBOS.read_stream(workflow_id, key))

        def async_() -> None:
            async def follow() -> None:
                async for v in DBOS.read_stream_async(workflow_id, key):
                    self.seen["async"].append(v)
            asyncio.run(follow())

        def client() -> None:
            with DBOSClient(db_url) as c:
                self.seen["client"].extend(c.read_stream(workflow_id, key))

        def sse() -> None:
            with httpx.Client(base_url=gateway_url, timeout=60) as http, \
                    http.stream("GET", f"/workflows/{workflow_id}/streams/{key}", headers=SSE) as r:
                assert r.status_code == 200
                self.sse_ready.set()
                for event in parse_sse(r.iter_text()):
                    if event.event == "end":
                        return
                    assert event.event == "message", event
                    assert event.id == str(len(self.seen["sse"])), event  # offsets 0, 1, 2, ... none twice
                    self.seen["sse"].append(event.json())

        def guarded(fn: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                try:
                    fn()
                except BaseException as exc:  # reported by join()
                    self.errors.append(exc)
                    self.sse_ready.set()
            return run

        self.threads = [threading.Thread(target=guarded(f), daemon=True) for f in (sync, async_, client, sse)]
        for t in self.threads:
            t.start()
        assert self.sse_ready.wait(30)

    def all_saw(self, n: int) -> bool:
        if self.errors:
            raise self.errors[0]
        return all(len(v) >= n for v in self.seen.values())

    def join(self) -> dict[str, list[Any]]:
        for t in self.threads:
            t.join(timeout=60)
        if self.errors:
            raise self.errors[0]
        return self.seen


@pytest.fixture
def gateway(dbos: type[DBOS]) -> Any:
    with ServerThread(create_gateway(DBOS, insecure=True)) as server:
        yield server


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_step_failing_after_three_writes_then_succeeding_leaves_each_value_once(
        kind: str, db_url: str, gateway: ServerThread) -> None:
    """Readers follow live: they see the first attempt's three values while the step still runs (the step
    waits for them before failing), the second attempt's identical writes add nothing, and every reader ends
    with each value once."""
    attempts: list[int] = []
    readers_saw_three = threading.Event()

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=3)
    def sync_step() -> str:
        attempts.append(1)
        for i in range(3):
            DBOS.write_stream("tokens", f"t{i}")
        if len(attempts) == 1:
            assert readers_saw_three.wait(30)
            raise RuntimeError("flaky after three writes")
        return "ok"

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=3)
    async def async_step() -> str:
        attempts.append(1)
        for i in range(3):
            await DBOS.write_stream_async("tokens", f"t{i}")
        if len(attempts) == 1:
            assert await asyncio.to_thread(readers_saw_three.wait, 30)
            raise RuntimeError("flaky after three writes")
        return "ok"

    @DBOS.workflow()
    def sync_wf() -> str:
        result = sync_step()
        DBOS.write_stream("tokens", "end")
        return result

    @DBOS.workflow()
    async def async_wf() -> str:
        result = await async_step()
        await DBOS.write_stream_async("tokens", "end")
        return result

    wfid = f"once-{kind}-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(sync_wf) if kind == "sync" else DBOS.start_workflow(async_wf)
    readers = Readers(db_url, gateway.url, wfid, "tokens")
    _wait_for(lambda: readers.all_saw(3), "every reader to see the first attempt's values")
    readers_saw_three.set()
    assert handle.get_result() == "ok"
    assert len(attempts) == 2
    expected = ["t0", "t1", "t2", "end"]
    assert readers.join() == {"sync": expected, "async": expected, "client": expected, "sse": expected}
    assert list(DBOS.read_stream(wfid, "tokens")) == expected
    assert DBOS.list_streams(wfid)[0].values == 4  # stored once, not only read once


def test_attempts_writing_different_values_keep_every_distinct_value_once(dbos: type[DBOS]) -> None:
    """The documented rule (docs/guarantees.md): a step call's writes are identified by value and occurrence.
    A value an earlier attempt already stored (as often) is not stored again, in whatever order the retry
    writes it; a value no attempt wrote before is appended; one written fewer times removes nothing."""
    plan = [["a", "b", "x", "x"], ["b", "a"], ["c", "a", "x", "x", "x", "b"]]
    attempt = iter(range(3))

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=3)
    def differing() -> int:
        n = next(attempt)
        for v in plan[n]:
            DBOS.write_stream("s", v)
        if n < 2:
            raise RuntimeError(f"attempt {n + 1} fails")
        return n

    @DBOS.workflow()
    def wf() -> int:
        return differing()

    handle = DBOS.start_workflow(wf)
    assert handle.get_result() == 2
    assert list(DBOS.read_stream(handle.workflow_id, "s")) == ["a", "b", "x", "x", "c", "x"]


def test_each_attempts_own_values_are_all_kept_as_dbos_keeps_them(dbos: type[DBOS]) -> None:
    """A step whose attempts each write a value of their own (DBOS's test_stream_write_from_step): every
    attempt's value is kept, in order, as DBOS keeps them; none is repeated."""
    calls: list[int] = []

    @DBOS.step(retries_allowed=True, max_attempts=4, interval_seconds=0)
    def writes_and_fails() -> None:
        calls.append(1)
        DBOS.write_stream("s", f"attempt {len(calls)}")
        if len(calls) < 4:
            raise RuntimeError("again")

    @DBOS.workflow()
    def wf() -> None:
        writes_and_fails()
        DBOS.write_stream("s", "from the workflow")

    handle = DBOS.start_workflow(wf)
    handle.get_result()
    assert list(DBOS.read_stream(handle.workflow_id, "s")) == [
        "attempt 1", "attempt 2", "attempt 3", "attempt 4", "from the workflow"]


def test_each_key_and_each_step_call_count_their_own_writes(dbos: type[DBOS]) -> None:
    """n is per key within one step call; two calls of the same step (two step numbers) both write."""
    tries: dict[str, int] = {}

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=2)
    def two_keys(tag: str) -> None:
        tries[tag] = tries.get(tag, 0) + 1
        DBOS.write_stream("a", f"{tag}-a0")
        DBOS.write_stream("b", f"{tag}-b0")
        DBOS.write_stream("a", f"{tag}-a1")
        if tries[tag] == 1:
            raise RuntimeError("again")

    @DBOS.step()
    def nested_writer() -> None:
        DBOS.write_stream("a", "nested")  # a step called in a step runs as part of it: its write counts there

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=2)
    def outer() -> None:
        tries["outer"] = tries.get("outer", 0) + 1
        nested_writer()
        if tries["outer"] == 1:
            raise RuntimeError("again")

    @DBOS.workflow()
    def wf() -> None:
        two_keys("x")
        two_keys("y")
        outer()

    handle = DBOS.start_workflow(wf)
    handle.get_result()
    assert list(DBOS.read_stream(handle.workflow_id, "a")) == ["x-a0", "x-a1", "y-a0", "y-a1", "nested"]
    assert list(DBOS.read_stream(handle.workflow_id, "b")) == ["x-b0", "y-b0"]


def test_threads_of_one_step_writing_at_once_each_value_stored_once(dbos: type[DBOS]) -> None:
    """Writes made at once from several threads of one step (sharing its context) each take their own n:
    none is lost to a shared index, and the retry (which interleaves differently) adds nothing."""
    import contextvars

    tries: list[int] = []
    failures: list[BaseException] = []  # no write may fail, in either attempt: racing appenders retry

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=2)
    def fan_out() -> None:
        tries.append(1)

        def writer(t: int) -> None:
            try:
                for i in range(25):
                    DBOS.write_stream("s", (t, i))
            except BaseException as exc:  # a thread's exception would otherwise only be printed
                failures.append(exc)

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(writer, t)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if len(tries) == 1:
            raise RuntimeError("again")

    @DBOS.workflow()
    def wf() -> None:
        fan_out()

    handle = DBOS.start_workflow(wf)
    handle.get_result()
    values = list(DBOS.read_stream(handle.workflow_id, "s"))
    assert sorted(values) == [(t, i) for t in range(4) for i in range(25)]
    assert failures == []


def test_close_inside_a_retried_step(dbos: type[DBOS]) -> None:
    """A step may close a stream: the retry's repeated writes and close change nothing; a write past the
    ones the closing attempt made is refused (StreamClosedError), since the stream is closed."""
    state = {"attempts": 0}

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=2)
    def writes_and_closes() -> str:
        state["attempts"] += 1
        DBOS.write_stream("s", 1)
        DBOS.write_stream("s", 2)
        DBOS.close_stream("s")
        if state["attempts"] == 1:
            raise RuntimeError("fails after closing")
        return "ok"

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=2)
    def writes_more_after_close() -> None:
        state["attempts"] += 1
        DBOS.write_stream("t", "x")
        if state["attempts"] == 1:
            DBOS.close_stream("t")
            raise RuntimeError("fails after closing")
        DBOS.write_stream("t", "y")  # the second write: past what the closing attempt wrote

    @DBOS.workflow()
    def wf() -> str:
        return writes_and_closes()

    @DBOS.workflow()
    def wf_more() -> None:
        writes_more_after_close()

    handle = DBOS.start_workflow(wf)
    assert handle.get_result() == "ok" and state["attempts"] == 2
    assert list(DBOS.read_stream(handle.workflow_id, "s")) == [1, 2]
    snap = DBOS.read_stream_nowait(handle.workflow_id, "s")
    assert (snap.values, snap.closed) == ([1, 2], True)

    state["attempts"] = 0
    more = DBOS.start_workflow(wf_more)
    with pytest.raises(MaxStepRetriesExceeded) as info:
        more.get_result()
    assert any(isinstance(e, StreamClosedError) for e in info.value.errors)
    assert list(DBOS.read_stream(more.workflow_id, "t")) == ["x"]


def test_workflow_body_writes_and_step_writes_interleave_once(dbos: type[DBOS]) -> None:
    state = {"n": 0}

    @DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=2)
    def middle() -> None:
        state["n"] += 1
        DBOS.write_stream("s", "step")
        if state["n"] == 1:
            raise RuntimeError("again")

    @DBOS.workflow()
    def wf() -> None:
        DBOS.write_stream("s", "before")
        middle()
        DBOS.write_stream("s", "after")

    wfid = f"mix-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(wfid):
        wf()
    with SetWorkflowID(wfid):
        wf()  # a second execution replays every checkpoint: nothing is written again
    assert list(DBOS.read_stream(wfid, "s")) == ["before", "step", "after"]


def test_rewound_step_writes_again_as_a_new_call(dbos: type[DBOS]) -> None:
    """A rewind runs the steps from the cut as new calls: like the workflow body's writes, theirs are appended
    again after the values already written (which stay)."""

    @DBOS.step()
    def writer() -> None:
        DBOS.write_stream("s", "from step")

    @DBOS.workflow()
    def wf() -> None:
        writer()

    handle = DBOS.start_workflow(wf)
    handle.get_result()
    DBOS.rewind_workflow(handle.workflow_id, start_step=1).get_result()
    assert list(DBOS.read_stream(handle.workflow_id, "s")) == ["from step", "from step"]


def test_fork_streams_hold_only_the_steps_it_runs(dbos: type[DBOS]) -> None:
    @DBOS.step()
    def first() -> None:
        DBOS.write_stream("s", "first")

    @DBOS.step()
    def second() -> None:
        DBOS.write_stream("s", "second")

    @DBOS.workflow()
    def wf() -> None:
        first()
        second()

    handle = DBOS.start_workflow(wf)
    handle.get_result()
    fork = DBOS.fork_workflow(handle.workflow_id, 2)
    fork.get_result()
    assert list(DBOS.read_stream(fork.workflow_id, "s")) == ["second"]
    assert list(DBOS.read_stream(handle.workflow_id, "s")) == ["first", "second"]


def test_store_repeat_of_a_step_write_returns_the_stored_offset(db_url: str) -> None:
    """At the storage level: the identity (step, occurrence, value digest) makes a repeat a no-op returning the
    first offset, even once the stream is closed; a new identity appends; a workflow-body write has none."""
    store = open_store(parse_database_url(db_url))
    try:
        from tether.storage.base import WorkflowRow

        wfid = f"store-{uuid.uuid4().hex[:8]}"
        store.insert_workflow(WorkflowRow(workflow_uuid=wfid, status="PENDING", name="w", created_at=1,
                                          updated_at=1))
        assert store.write_stream(wfid, "k", b"J1", 1) == 0
        d2, d3 = b"d2" * 8, b"d3" * 8  # the engine passes a digest of the value; any 16 bytes do here
        assert store.write_stream(wfid, "k", b"J2", 1, step_write=(2, 0, d2)) == 1
        assert store.write_stream(wfid, "k", b"J3", 1, step_write=(2, 0, d3)) == 2
        assert store.write_stream(wfid, "k", b"J2", 1, step_write=(2, 0, d2)) == 1  # a repeat: no new row
        assert store.write_stream(wfid, "k", b"J4", 1, step_write=(3, 0, d2)) == 3  # another step call
        assert store.write_stream(wfid, "k", None, 1) is None
        assert store.write_stream(wfid, "k", b"J3", 1, step_write=(2, 0, d3)) == 2  # closed, but a repeat
        with pytest.raises(StreamClosedError):
            store.write_stream(wfid, "k", b"J2", 1, step_write=(2, 1, d2))
        chunk = store.read_stream(wfid, "k", 0)
        assert chunk.entries == [(0, b"J1"), (1, b"J2"), (2, b"J3"), (3, b"J4"), (4, None)]
    finally:
        store.close()


def test_concurrent_identical_step_writes_store_one_value(db_url: str) -> None:
    """Two processes re-running the same step call at once (say, a fenced owner and its adopter) race on the
    same identities: each (step, n) is stored once and both learn the same offset."""
    db = parse_database_url(db_url)
    stores = [open_store(db) for _ in range(4)]
    try:
        from tether.storage.base import WorkflowRow

        wfid = f"race-{uuid.uuid4().hex[:8]}"
        stores[0].insert_workflow(WorkflowRow(workflow_uuid=wfid, status="PENDING", name="w", created_at=1,
                                              updated_at=1))
        offsets: dict[int, list[dict[int, int]]] = {i: [] for i in range(len(stores))}

        def writer(i: int) -> None:
            got: dict[int, int] = {}
            for n in range(30):
                value = f"J{n}".encode()
                seq = stores[i].write_stream(wfid, "k", value, 1, step_write=(5, 0, value_digest(value)))
                assert seq is not None
                got[n] = seq
            offsets[i].append(got)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(stores))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        seen = [offsets[i][0] for i in range(len(stores))]
        assert all(s == seen[0] for s in seen)
        chunk = stores[0].read_stream(wfid, "k", 0)
        assert len(chunk.entries) == 30
        assert sorted(bytes(v or b"") for _, v in chunk.entries) == sorted(f"J{n}".encode() for n in range(30))
    finally:
        for s in stores:
            s.close()
