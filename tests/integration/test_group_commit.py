"""Group commit (engine/groupcommit.py, storage/checkpoints.py): checkpoints of many workflows share
transactions, and each is answered as if written alone (both backends)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSClient, QueueDeduplicatedError, SetWorkflowID, StorageError
from tether.config import parse_database_url
from tether.engine.clock import Clock
from tether.serialization import deserialize, serialize
from tether.storage import Store, open_store
from tether.storage.base import OperationRow, WorkflowRow
from tether.storage.checkpoints import CompleteWorkflow, InsertWorkflow, RecordOperation

WORKFLOWS = 120
STEPS = 4


def test_concurrent_async_workflows_share_commits_and_record_every_step_once(dbos: type[DBOS],
                                                                             db_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    runs: Counter[tuple[int, int]] = Counter()

    @DBOS.step(name=f"gc-step-{tag}")
    async def step(n: int, i: int) -> int:
        runs[(n, i)] += 1
        return n * 100 + i

    @DBOS.workflow(name=f"gc-wf-{tag}")
    async def workflow(n: int) -> int:
        total = 0
        for i in range(STEPS):
            total += await step(n, i)
        return total

    async def wave(first: int) -> list[int]:
        handles = await asyncio.gather(*(DBOS.start_workflow_async(workflow, n)
                                         for n in range(first, first + WORKFLOWS)))
        return list(await asyncio.gather(*(h.get_result() for h in handles)))

    commits = DBOS._runtime.commits  # type: ignore[union-attr]
    waves = 0
    while True:  # one wave nearly always shares commits; a machine that never lets them meet fails below
        first = waves * WORKFLOWS
        results = asyncio.run(wave(first))
        assert results == [n * 100 * STEPS + sum(range(STEPS)) for n in range(first, first + WORKFLOWS)]
        waves += 1
        if commits.largest > 1 or waves == 5:
            break
    assert commits.largest > 1, "no two checkpoints ever shared a transaction"
    assert commits.batches < commits.checkpoints
    assert set(runs.values()) == {1} and len(runs) == waves * WORKFLOWS * STEPS
    with DBOSClient(db_url) as client:
        for n in (0, WORKFLOWS // 2, waves * WORKFLOWS - 1):
            wfid = next(w.workflow_id for w in client.list_workflows(name=f"gc-wf-{tag}")
                        if w.input is not None and w.input["args"][0] == n)
            steps = client.list_workflow_steps(wfid)
            assert [(s["function_id"], s["output"]) for s in steps] == [(i + 1, n * 100 + i) for i in range(STEPS)]
            assert client.retrieve_workflow(wfid).get_status().status == "SUCCESS"


def test_concurrent_sync_workflows_record_every_step_once(dbos: type[DBOS]) -> None:
    tag = uuid.uuid4().hex[:8]
    runs: Counter[tuple[int, int]] = Counter()
    lock = threading.Lock()

    @DBOS.step(name=f"gc-sync-step-{tag}")
    def step(n: int, i: int) -> int:
        with lock:
            runs[(n, i)] += 1
        return i

    @DBOS.workflow(name=f"gc-sync-wf-{tag}")
    def workflow(n: int) -> int:
        return sum(step(n, i) for i in range(STEPS))

    handles = [DBOS.start_workflow(workflow, n) for n in range(40)]
    assert [h.get_result() for h in handles] == [sum(range(STEPS))] * 40
    assert set(runs.values()) == {1} and len(runs) == 40 * STEPS
    assert all(len(DBOS.list_workflow_steps(h.workflow_id)) == STEPS for h in handles)


# -- the store's half: one transaction for many checkpoints, each answered as alone ---------------------------

@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(parse_database_url(db_url))
    try:
        yield opened
    finally:
        opened.close()


def _workflow(wfid: str, *, queue: str | None = None, dedup: str | None = None) -> WorkflowRow:
    return WorkflowRow(workflow_uuid=wfid, status="ENQUEUED" if queue else "PENDING", name="gc", inputs=None,
                       executor_id="gc", application_version="v", created_at=1, updated_at=1,
                       queue_name=queue, deduplication_id=dedup, serialization="py_pickle")


def _op(fid: int, value: object) -> OperationRow:
    return OperationRow(function_id=fid, function_name="step", output=serialize(value), started_at=1,
                        completed_at=2)


def test_one_batch_answers_each_checkpoint_as_alone(store: Store, db_url: str) -> None:
    """A batch with no failure: new rows are written, a step recorded earlier (by "another execution")
    comes back as the recorded row, an existing ID as the existing workflow, an end of a workflow no longer
    PENDING as False -- all in the one transaction, and all committed."""
    tag = uuid.uuid4().hex[:8]
    old, new, done = f"old-{tag}", f"new-{tag}", f"done-{tag}"
    assert store.insert_workflow(_workflow(old))[0]
    assert store.insert_workflow(_workflow(done))[0]
    assert store.record_operation(old, _op(1, "recorded first")) is None
    assert store.complete_workflow(done, "SUCCESS", serialize(1), None, 3)

    outcomes = store.write_checkpoints([
        InsertWorkflow(_workflow(new)),
        RecordOperation(new, _op(1, "a")),
        RecordOperation(old, _op(1, "recorded second")),   # the step was recorded already: that row wins
        RecordOperation(old, _op(2, "b")),
        InsertWorkflow(_workflow(old)),                     # the ID exists
        CompleteWorkflow(done, "ERROR", None, serialize("x"), 4),  # it ended already
        CompleteWorkflow(new, "SUCCESS", serialize("ok"), None, 5),
    ])

    assert [error for _, error in outcomes] == [None] * 7
    values = [value for value, _ in outcomes]
    assert values[0] == (True, _workflow(new))
    assert values[1] is None and values[3] is None
    assert isinstance(values[2], OperationRow) and deserialize(values[2].output) == "recorded first"
    assert values[4][0] is False and values[4][1].workflow_uuid == old
    assert values[5] is False and values[6] is True
    assert [deserialize(o.output) for o in store.load_operations(new)] == ["a"]
    assert [deserialize(o.output) for o in store.load_operations(old)] == ["recorded first", "b"]
    got = store.get_workflow(new)
    assert got is not None and got.status == "SUCCESS" and deserialize(got.output) == "ok"
    ended = store.get_workflow(done)
    assert ended is not None and ended.status == "SUCCESS"
    if db_url.startswith("postgresql"):  # the rows written by the batch carry one transaction ID
        with psycopg.connect(db_url) as conn:
            xids = conn.execute(
                "SELECT xmin::text FROM tether.workflow_status WHERE workflow_uuid = %s UNION "
                "SELECT xmin::text FROM tether.operation_outputs WHERE workflow_uuid = %s UNION "
                "SELECT xmin::text FROM tether.operation_outputs WHERE workflow_uuid = %s AND function_id = 2",
                (new, new, old)).fetchall()
        assert len(xids) == 1


def test_a_checkpoint_that_fails_fails_alone(store: Store) -> None:
    """Two starts in one batch take the same deduplication ID (the second fails), and a step is recorded for a
    workflow that does not exist: those two callers get their errors, every other checkpoint of the batch is
    committed."""
    tag = uuid.uuid4().hex[:8]
    base, first, second = f"base-{tag}", f"first-{tag}", f"second-{tag}"
    assert store.insert_workflow(_workflow(base))[0]
    outcomes = store.write_checkpoints([
        RecordOperation(base, _op(1, "before")),
        InsertWorkflow(_workflow(first, queue="q", dedup=f"d-{tag}")),
        InsertWorkflow(_workflow(second, queue="q", dedup=f"d-{tag}")),  # the ID is held: fails
        RecordOperation(f"missing-{tag}", _op(1, "orphan")),            # no such workflow: fails
        RecordOperation(base, _op(2, "after")),
        CompleteWorkflow(base, "SUCCESS", serialize(2), None, 9),
    ])
    assert outcomes[0] == (None, None)
    assert outcomes[1] == ((True, _workflow(first, queue="q", dedup=f"d-{tag}")), None)
    assert isinstance(outcomes[2][1], QueueDeduplicatedError)
    assert isinstance(outcomes[3][1], StorageError)
    assert outcomes[4] == (None, None) and outcomes[5] == (True, None)
    assert [deserialize(o.output) for o in store.load_operations(base)] == ["before", "after"]
    assert store.get_workflow(first) is not None
    assert store.get_workflow(second) is None
    assert store.load_operations(f"missing-{tag}") == []
    ended = store.get_workflow(base)
    assert ended is not None and ended.status == "SUCCESS"


# PostgreSQL only: a pipelined batch is PostgreSQL's (SQLite's waits are in the sqlite3 module, GIL released)
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_batch_waiting_for_a_row_lock_leaves_the_process_running(store: Store, db_url: str) -> None:
    """A PostgreSQL batch (one pipelined round trip) that must wait for a row lock waits without holding the
    interpreter. Here the lock belongs to a transaction of another thread of this same process, which can
    only commit while the batch waits: had the wait held the GIL, the whole process would stand still until
    the server ended that idle transaction (its commit then fails), or forever without such a timeout."""
    tag = uuid.uuid4().hex[:8]
    held, free = f"held-{tag}", f"free-{tag}"
    holder = psycopg.connect(db_url)  # a transaction, not autocommit
    watcher = psycopg.connect(db_url, autocommit=True)
    try:
        holder.execute("SET idle_in_transaction_session_timeout = '30s'")  # bounds the test if the process stops
        holder.execute("INSERT INTO tether.workflow_status (workflow_uuid, status, name, created_at, updated_at, "
                       "recovery_attempts) VALUES (%s, 'PENDING', 'gc', 1, 1, 0)", (held,))
        outcomes: list[object] = []
        batch = threading.Thread(target=lambda: outcomes.extend(store.write_checkpoints(
            [InsertWorkflow(_workflow(held)), InsertWorkflow(_workflow(free))])))
        batch.start()
        waiting = 0
        while batch.is_alive() and not waiting:  # the batch's insert of `held` waits for the holder's
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'").fetchone()[0]  # type: ignore[index]
        holder.commit()  # only possible while the batch waits if its wait left this thread running
        batch.join()
    finally:
        holder.close()
        watcher.close()
    assert waiting == 1
    assert outcomes[0][0][0] is False and outcomes[0][0][1].workflow_uuid == held  # type: ignore[index]
    assert outcomes[1] == ((True, _workflow(free)), None)


# PostgreSQL only: SQLite runs one write transaction at a time (BEGIN IMMEDIATE): batches cannot deadlock
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_batch_that_loses_a_deadlock_answers_each_checkpoint_as_alone(store: Store, db_url: str) -> None:
    """Two batches insert the same two workflow IDs in opposite orders, so each waits for the other: a
    deadlock that writes made alone never meet. PostgreSQL rolls one back, and that is no fault of unknown
    fate: its checkpoints are written again alone and answered as alone (the IDs the other batch created are
    existing workflows), never raised as DatabaseUnavailableError, which would make every caller of the batch
    treat an existing row as possibly its own lost write."""
    tag = uuid.uuid4().hex[:8]
    x, y, z = f"x-{tag}", f"y-{tag}", f"z-{tag}"
    other = open_store(parse_database_url(db_url))  # another process's store
    holder = psycopg.connect(db_url)
    watcher = psycopg.connect(db_url, autocommit=True)
    answers: dict[str, object] = {}

    def write(name: str, on: Store, ids: list[str]) -> None:
        try:
            answers[name] = on.write_checkpoints([InsertWorkflow(_workflow(i)) for i in ids])
        except Exception as exc:  # what the batch raised is what the test looks at
            answers[name] = exc

    def lock_waits(at_least: int) -> None:
        while watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND wait_event_type = 'Lock'").fetchone()[0] < at_least:  # type: ignore[index]
            pass

    try:
        # z is held by an open transaction, so batch B takes y and then waits; batch A takes x and waits for
        # y; the holder lets go and B goes on to x, held by A: a cycle, which PostgreSQL breaks.
        holder.execute("INSERT INTO tether.workflow_status (workflow_uuid, status, name, created_at, updated_at, "
                       "recovery_attempts) VALUES (%s, 'PENDING', 'held', 1, 1, 0)", (z,))
        b = threading.Thread(target=write, args=("B", other, [y, z, x]))
        b.start()
        lock_waits(1)
        a = threading.Thread(target=write, args=("A", store, [x, y]))
        a.start()
        lock_waits(2)
        holder.rollback()
        a.join()
        b.join()
    finally:
        holder.close()
        watcher.close()
        other.close()
    for name in ("A", "B"):
        assert isinstance(answers[name], list), f"batch {name} raised {answers[name]!r}"
    created: Counter[str] = Counter()
    for outcomes in (answers["A"], answers["B"]):
        for (was_created, row), error in outcomes:  # type: ignore[attr-defined]
            assert error is None
            created[row.workflow_uuid] += was_created
    assert created == {x: 1, y: 1, z: 1}


def test_a_start_cancelled_while_its_checkpoint_waits_for_a_batch_writes_nothing(dbos: type[DBOS],
                                                                               db_url: str) -> None:
    """A caller cancelled while its checkpoint still waits for the writer (every writer busy with an earlier
    batch) withdraws it, as a storage call not yet started is never run. For a start this matters: its row,
    written after the caller gave up, would be a PENDING workflow of this process that nothing runs until
    the next launch."""
    tag = uuid.uuid4().hex[:8]
    rt = DBOS._runtime
    assert rt is not None
    gate = threading.Event()

    @DBOS.step(name=f"gc-gate-{tag}")
    def gated() -> int:
        gate.wait()
        return 1

    @DBOS.workflow(name=f"gc-busy-{tag}")
    async def busy() -> int:
        return int(await asyncio.to_thread(gated))

    @DBOS.workflow(name=f"gc-never-{tag}")
    async def never() -> int:
        return 2

    async def main() -> None:
        first = await DBOS.start_workflow_async(busy)
        holder: Any
        if db_url.startswith("postgresql"):  # the step's checkpoint needs a key share of this row
            holder = psycopg.connect(db_url)
            holder.execute("SELECT 1 FROM tether.workflow_status WHERE workflow_uuid = %s FOR UPDATE",
                           (first.workflow_id,))
        else:  # SQLite: one writer at a time
            holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
        try:
            batches = rt.commits.batches  # the start's, so far
            gate.set()  # the step ends; its checkpoint takes the writer and waits for the holder
            while rt.commits.batches == batches:  # counted as its write begins
                await asyncio.sleep(0.01)

            async def start() -> None:
                with SetWorkflowID(f"never-{tag}"):
                    await DBOS.start_workflow_async(never)

            starting = asyncio.ensure_future(start())
            while not rt.commits._queue:  # the start's row waits for the next batch
                await asyncio.sleep(0.01)
            starting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await starting
        finally:
            holder.rollback() if isinstance(holder, psycopg.Connection) else holder.execute("ROLLBACK")
            holder.close()
        assert await first.get_result() == 1

    asyncio.run(main())
    assert DBOS.get_workflow_status(f"never-{tag}") is None


class _StoppedClock(Clock):
    """Every start in one millisecond, as a burst of starts often is."""

    def now_ms(self) -> int:
        return 1_700_000_000_000


# PostgreSQL only: a batch is cut off mid-flight by terminating its PostgreSQL server process
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_starts_of_one_id_in_a_batch_cut_off_by_a_fault_run_it_once(db_url: str) -> None:
    """Two concurrent starts of one workflow ID (the same millisecond) share a batch, and a fault cuts that batch
    off (its server process is terminated while the batch waits for a lock). Each start rides the fault out
    alone; one creates the row, and the other finds a row with its own creation time, executor ID, name and
    status, which is what its own write would look like had it committed before the connection was lost.
    Only one of them may run the workflow."""
    tag = uuid.uuid4().hex[:8]
    runs: Counter[str] = Counter()

    @DBOS.workflow(name=f"gc-once-{tag}")
    async def once() -> int:
        runs["once"] += 1
        return 1

    @DBOS.workflow(name=f"gc-other-{tag}")
    async def other() -> int:
        return 2

    DBOS(config=make_config(db_url), clock=_StoppedClock())
    DBOS.launch()
    rt = DBOS._runtime
    assert rt is not None
    holders = [psycopg.connect(db_url), psycopg.connect(db_url)]
    watcher = psycopg.connect(db_url, autocommit=True)

    def lock_waiters() -> list[int]:
        return [r[0] for r in watcher.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                              "AND wait_event_type = 'Lock'").fetchall()]

    async def start(wfid: str, fn: Any) -> Any:
        with SetWorkflowID(wfid):
            handle = await DBOS.start_workflow_async(fn)
        return await handle.get_result()

    async def main() -> list[Any]:
        for holder, held in zip(holders, (f"held-{tag}", f"held2-{tag}"), strict=True):
            holder.execute("INSERT INTO tether.workflow_status (workflow_uuid, status, name, created_at, "
                           "updated_at, recovery_attempts) VALUES (%s, 'PENDING', 'h', 1, 1, 0)", (held,))
        first = asyncio.ensure_future(start(f"held-{tag}", other))  # the writer waits for the first holder
        while not lock_waiters():
            await asyncio.sleep(0.01)
        twice = [asyncio.ensure_future(start(f"once-{tag}", once)) for _ in range(2)]
        last = asyncio.ensure_future(start(f"held2-{tag}", other))  # the next batch will wait for the second
        while len(rt.commits._queue) < 3:
            await asyncio.sleep(0.01)
        holders[0].rollback()  # the next batch: the two starts of one ID, then the one that waits
        while not (rt.commits.batches >= 2 and (waiting := lock_waiters())):
            await asyncio.sleep(0.01)
        watcher.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))  # a fault cuts the batch off
        while watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (waiting[0],)).fetchone():
            await asyncio.sleep(0.01)
        holders[1].rollback()
        return list(await asyncio.gather(first, *twice, last))

    try:
        assert asyncio.run(main()) == [2, 1, 1, 2]
    finally:
        for conn in (*holders, watcher):
            conn.close()
        DBOS.destroy()
    assert runs["once"] == 1


def test_one_step_recorded_twice_in_a_batch_is_answered_as_alone(store: Store) -> None:
    """Two executions of one workflow record the same step in the same batch: the first is recorded, the
    second gets the first's row (as it would writing alone after it), and the batch's other rows are written."""
    tag = uuid.uuid4().hex[:8]
    wfid, other = f"twice-{tag}", f"other-{tag}"
    assert store.insert_workflow(_workflow(wfid))[0] and store.insert_workflow(_workflow(other))[0]
    outcomes = store.write_checkpoints([
        RecordOperation(wfid, _op(1, "first")),
        RecordOperation(other, _op(1, "x")),
        RecordOperation(wfid, _op(1, "second")),
        RecordOperation(other, _op(2, "y")),
    ])
    assert outcomes[0] == (None, None) and outcomes[1] == (None, None) and outcomes[3] == (None, None)
    prior, error = outcomes[2]
    assert error is None and isinstance(prior, OperationRow) and deserialize(prior.output) == "first"
    assert [deserialize(o.output) for o in store.load_operations(wfid)] == ["first"]
    assert [deserialize(o.output) for o in store.load_operations(other)] == ["x", "y"]
