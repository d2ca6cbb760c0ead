"""Queues on both backends: limits, order, deduplication, priorities, delays, and enqueueing from a client."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest

from tether import (
    DBOS,
    DBOSClient,
    Queue,
    QueueConfigurationError,
    QueueDeduplicatedError,
    SetEnqueueOptions,
    SetWorkflowID,
    WorkflowHandle,
)

WAIT = 15  # seconds a test waits for an outcome before it fails


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda p: (p[0], p[1]))
    best = cur = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def test_concurrency_one_runs_in_fifo_order_without_overlap(dbos: type[DBOS]) -> None:
    q = Queue(f"fifo-{_uid()}", concurrency=1)
    spans: list[tuple[float, float]] = []
    order: list[int] = []

    @DBOS.workflow(name=f"fifo-wf-{q.name}")
    def work(i: int) -> int:
        start = time.monotonic()
        order.append(i)
        time.sleep(0.02)  # the workload: long enough that two running at once would overlap
        spans.append((start, time.monotonic()))
        return i

    handles = [q.enqueue(work, i) for i in range(6)]
    assert [h.get_result(timeout_seconds=WAIT) for h in handles] == list(range(6))
    assert _max_overlap(spans) == 1
    statuses = DBOS.list_workflows(queue_name=q.name)
    # Oldest first: by enqueue time (ms), ties by workflow ID, which is also how list_workflows sorts.
    assert order == [s.input["args"][0] for s in statuses]
    assert [s.status for s in statuses] == ["SUCCESS"] * 6
    assert all(s.queue_name == q.name for s in statuses)


def test_worker_concurrency_limits_this_process(dbos: type[DBOS]) -> None:
    """At most 2 bodies at once, and 2 really do run together: the first ones admitted wait until a second
    one is in (so the peak does not depend on how fast a loaded machine schedules them)."""
    q = Queue(f"wc-{_uid()}", worker_concurrency=2)
    lock = threading.Lock()
    two_in = threading.Event()
    state = {"running": 0, "peak": 0}

    @DBOS.workflow(name=f"wc-wf-{q.name}")
    async def work(i: int) -> int:
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
            if state["running"] == 2:
                two_in.set()
        await asyncio.to_thread(two_in.wait, WAIT)
        await asyncio.sleep(0.05)  # room for a third to start, were the limit broken
        with lock:
            state["running"] -= 1
        return i

    handles = [q.enqueue(work, i) for i in range(6)]
    assert sorted(h.get_result(timeout_seconds=WAIT) for h in handles) == list(range(6))
    assert two_in.is_set() and state["peak"] == 2


def test_rate_limiter_holds_starts_per_period(dbos: type[DBOS]) -> None:
    """What the limiter decides is when the queue admits a workflow (its recorded start, from the runtime's
    clock), not when its body gets a CPU: measured there, the rule holds however loaded the machine is."""
    q = Queue(f"rl-{_uid()}", limiter={"limit": 2, "period": 0.6})

    @DBOS.workflow(name=f"rl-wf-{q.name}")
    def work(i: int) -> int:
        return i

    handles = [q.enqueue(work, i) for i in range(5)]
    for h in handles:
        h.get_result(timeout_seconds=WAIT)
    store = DBOS._rt().store
    admitted = []
    for h in handles:
        row = store.get_workflow(h.workflow_id, load_input=False, load_output=False)
        assert row is not None and row.started_at_epoch_ms is not None
        admitted.append(row.started_at_epoch_ms)
    admitted.sort()
    # Any three consecutive admissions span more than one period: never more than 2 in any 0.6 s window.
    for a, c in zip(admitted, admitted[2:], strict=False):
        assert c - a > 600
    rows = DBOS.list_workflows(queue_name=q.name)
    assert {r.status for r in rows} == {"SUCCESS"}


def test_deduplication_id_is_unique_among_active_workflows(dbos: type[DBOS]) -> None:
    q = Queue(f"dd-{_uid()}")
    release = threading.Event()

    @DBOS.workflow(name=f"dd-wf-{q.name}")
    def work(x: int) -> int:
        release.wait(WAIT)
        return x

    with SetEnqueueOptions(deduplication_id="user-1"):
        first = q.enqueue(work, 1)
        with pytest.raises(QueueDeduplicatedError) as info:
            q.enqueue(work, 2)
    assert info.value.deduplication_id == "user-1"
    with SetEnqueueOptions(deduplication_id="user-2"):
        other = q.enqueue(work, 3)  # another ID is fine
    release.set()
    assert first.get_result(timeout_seconds=WAIT) == 1
    assert other.get_result(timeout_seconds=WAIT) == 3
    with SetEnqueueOptions(deduplication_id="user-1"):
        again = q.enqueue(work, 4)  # the first one ended, so the ID is free again
    assert again.get_result(timeout_seconds=WAIT) == 4
    assert first.get_status().deduplication_id is None  # an ended workflow holds no ID (as in DBOS)


def test_an_ended_workflow_gives_up_its_deduplication_id_as_in_dbos(dbos: type[DBOS], db_url: str) -> None:
    """DBOS 3.4 clears a workflow's ``deduplication_id`` when it ends (success or error), so its status shows
    None; Tether kept it on the finished workflow (while letting the ID be reused)."""
    q = Queue(f"dd-end-{_uid()}")

    @DBOS.workflow(name=f"dd-end-wf-{q.name}")
    def work(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return x

    with SetEnqueueOptions(deduplication_id="ok"):
        ok = q.enqueue(work, 1)
    with SetEnqueueOptions(deduplication_id="bad"):
        bad = q.enqueue(work, -1)
    with DBOSClient(db_url) as client:
        by_client = client.enqueue({"queue_name": q.name, "workflow_name": f"dd-end-wf-{q.name}",
                                    "deduplication_id": "client"}, 2)
    assert ok.get_result(timeout_seconds=WAIT) == 1
    assert by_client.get_result(timeout_seconds=WAIT) == 2
    with pytest.raises(ValueError):
        bad.get_result(timeout_seconds=WAIT)
    for handle in (ok, bad, by_client):
        status = handle.get_status()
        assert status.status in ("SUCCESS", "ERROR") and status.queue_name == q.name
        assert status.deduplication_id is None
    assert {w.deduplication_id for w in DBOS.list_workflows(queue_name=q.name)} == {None}


def test_priorities_order_the_queue(dbos: type[DBOS]) -> None:
    q = Queue(f"prio-{_uid()}", concurrency=1, priority_enabled=True)
    gate = threading.Event()
    ran: list[str] = []

    @DBOS.workflow(name=f"prio-wf-{q.name}")
    def work(tag: str) -> str:
        if tag == "blocker":
            gate.wait(WAIT)
        ran.append(tag)
        return tag

    blocker = q.enqueue(work, "blocker")
    DBOS.retrieve_workflow(blocker.workflow_id)
    _wait_status(blocker, "PENDING")
    handles = []
    for prio in (5, 1, 3):
        with SetEnqueueOptions(priority=prio):
            handles.append(q.enqueue(work, f"p{prio}"))
    assert sorted(s.priority for s in DBOS.list_queued_workflows(queue_name=q.name, status="ENQUEUED")) == [1, 3, 5]
    gate.set()
    for h in handles:
        h.get_result(timeout_seconds=WAIT)
    assert ran == ["blocker", "p1", "p3", "p5"]


def test_priority_needs_priority_enabled(dbos: type[DBOS]) -> None:
    q = Queue(f"noprio-{_uid()}")

    @DBOS.workflow(name=f"noprio-wf-{q.name}")
    def work() -> None:
        return None

    with SetEnqueueOptions(priority=2), pytest.raises(ValueError):
        q.enqueue(work)
    with pytest.raises(ValueError):
        SetEnqueueOptions(priority=-1)
    with pytest.raises(ValueError):
        Queue("bad", concurrency=0)
    with pytest.raises(ValueError):
        Queue("bad", concurrency=1, worker_concurrency=2)
    with pytest.raises(ValueError):
        Queue("bad", limiter={"limit": 0, "period": 1.0})


def test_enqueue_async_and_set_workflow_id(dbos: type[DBOS]) -> None:
    q = Queue(f"async-{_uid()}")

    @DBOS.workflow(name=f"async-wf-{q.name}")
    async def work(x: int) -> int:
        return x + 1

    async def main() -> tuple[Any, Any, str]:
        with SetWorkflowID(f"fixed-{q.name}"):
            h = await q.enqueue_async(work, 41)
        with SetWorkflowID(f"fixed-{q.name}"):
            again = await q.enqueue_async(work, 99)  # the same ID: the same workflow, not run twice
        return await h.get_result(timeout_seconds=WAIT), await again.get_result(timeout_seconds=WAIT), h.workflow_id

    a, b, wfid = asyncio.run(main())
    assert (a, b, wfid) == (42, 42, f"fixed-{q.name}")


def test_enqueue_from_a_workflow_records_the_child(dbos: type[DBOS]) -> None:
    q = Queue(f"child-{_uid()}")

    @DBOS.workflow(name=f"child-wf-{q.name}")
    def child(x: int) -> int:
        return x * 10

    @DBOS.workflow(name=f"parent-wf-{q.name}")
    def parent() -> int:
        h: WorkflowHandle[int] = q.enqueue(child, 4)
        return h.get_result()

    with SetWorkflowID(f"parent-{q.name}"):
        assert parent() == 40
    kids = DBOS.list_workflows(parent_workflow_id=f"parent-{q.name}")
    assert [k.queue_name for k in kids] == [q.name]
    steps = DBOS.list_workflow_steps(f"parent-{q.name}")
    assert steps[0]["child_workflow_id"] == kids[0].workflow_id


def test_client_enqueues_by_name(dbos: type[DBOS], db_url: str) -> None:
    q = Queue(f"client-{_uid()}")

    @DBOS.workflow(name=f"client-wf-{q.name}")
    def work(a: int, b: int = 0) -> int:
        return a + b

    with DBOSClient(db_url) as client:
        h = client.enqueue({"queue_name": q.name, "workflow_name": f"client-wf-{q.name}",
                            "workflow_id": f"c-{q.name}", "authenticated_user": "ann"}, 2, b=5)
        assert h.workflow_id == f"c-{q.name}"
        assert h.get_result(timeout_seconds=WAIT) == 7

        async def enqueue_async() -> Any:
            ha = await client.enqueue_async({"queue_name": q.name, "workflow_name": f"client-wf-{q.name}"}, 1)
            return await ha.get_result(timeout_seconds=WAIT)

        assert asyncio.run(enqueue_async()) == 1
        with pytest.raises(ValueError):
            client.enqueue({"queue_name": q.name, "workflow_name": ""})
    status = DBOS.get_workflow_status(f"c-{q.name}")
    assert status is not None
    assert status.authenticated_user == "ann"
    assert status.executor_id == DBOS.executor_id  # claimed by this process
    assert status.app_version == DBOS.application_version


def test_delayed_enqueue_starts_on_time(dbos: type[DBOS]) -> None:
    q = Queue(f"delay-{_uid()}")
    started: list[int] = []

    @DBOS.workflow(name=f"delay-wf-{q.name}")
    def work() -> str:
        started.append(int(time.time() * 1000))
        return "ran"

    with SetEnqueueOptions(delay_seconds=0.4):
        h = q.enqueue(work)
    st = h.get_status()
    assert st.status == "DELAYED"
    assert st.delay_until_epoch_ms is not None
    assert h.get_result(timeout_seconds=WAIT) == "ran"
    assert started[0] >= st.delay_until_epoch_ms
    assert DBOS.list_workflows(workflow_ids=[h.workflow_id])[0].status == "SUCCESS"


def test_delay_needs_a_queue_and_a_delay_can_be_moved(dbos: type[DBOS]) -> None:
    tag = _uid()

    @DBOS.workflow(name=f"delay-start-{tag}")
    def work(x: int) -> int:
        return x

    wfid = f"undelayed-{tag}"
    with SetEnqueueOptions(delay_seconds=3600), SetWorkflowID(wfid), \
            pytest.raises(QueueConfigurationError, match="not being enqueued"):
        DBOS.start_workflow(work, 5)
    assert DBOS.get_workflow_status(wfid) is None  # rejected before anything was written
    DBOS.register_queue(f"delay-q-{tag}")
    with SetEnqueueOptions(delay_seconds=3600):
        h = DBOS.enqueue_workflow(f"delay-q-{tag}", work, 5)
    assert h.get_status().status == "DELAYED"
    with pytest.raises(TimeoutError):
        h.get_result(timeout_seconds=0.2)
    DBOS.set_workflow_delay(h.workflow_id, delay_seconds=0)  # due now: starts at once
    assert h.get_result(timeout_seconds=WAIT) == 5
    DBOS.set_workflow_delay(h.workflow_id, delay_seconds=10)  # no longer DELAYED: no effect
    assert h.get_status().status == "SUCCESS"


def test_set_workflow_delay_pushes_back_and_validates(dbos: type[DBOS]) -> None:
    q = Queue(f"push-{_uid()}")

    @DBOS.workflow(name=f"push-wf-{q.name}")
    def work() -> int:
        return int(time.time() * 1000)

    with SetEnqueueOptions(delay_seconds=3600):  # not due before the push below, however slow this machine
        h = q.enqueue(work)
    target = int(time.time() * 1000) + 700
    DBOS.set_workflow_delay(h.workflow_id, delay_until_epoch_ms=target)
    assert h.get_status().delay_until_epoch_ms == target
    assert h.get_result(timeout_seconds=WAIT) >= target
    with pytest.raises(ValueError):
        DBOS.set_workflow_delay(h.workflow_id)
    with pytest.raises(ValueError):
        DBOS.set_workflow_delay(h.workflow_id, delay_seconds=1, delay_until_epoch_ms=1)
    with pytest.raises(ValueError):
        DBOS.set_workflow_delay(h.workflow_id, delay_seconds=-1)
    with pytest.raises(LookupError):
        DBOS.set_workflow_delay(f"missing-{q.name}", delay_seconds=1)

    async def via_async() -> None:
        with SetEnqueueOptions(delay_seconds=3600):
            ha = await q.enqueue_async(work)
        await DBOS.set_workflow_delay_async(ha.workflow_id, delay_seconds=0)
        await ha.get_result(timeout_seconds=WAIT)

    asyncio.run(via_async())


def test_a_delay_moved_back_after_the_runner_read_it_as_due_is_kept(dbos: type[DBOS]) -> None:
    """The runner reads which DELAYED workflows are due, then promotes them: a delay moved back in between
    must win. The runner's steps are taken here one by one, at times of our choosing, so the interleaving is
    the same on every run (the live runner sees the workflow due in an hour only, and leaves it alone)."""
    q = Queue(f"moved-{_uid()}")

    @DBOS.workflow(name=f"moved-wf-{q.name}")
    def work() -> str:
        return "ran"

    rt = DBOS._runtime
    assert rt is not None
    with SetEnqueueOptions(delay_seconds=3600):
        h = q.enqueue(work)
    hour = 3600 * 1000
    now = rt.clock.now_ms()
    runner_now = now + 2 * hour  # when a runner reads it: due
    assert h.workflow_id in [r.workflow_uuid for r in rt.store.due_delayed(runner_now)]
    assert rt.store.set_delay(h.workflow_id, now + 3 * hour, now)  # moved back before the promotion
    assert not rt.store.promote_delayed(h.workflow_id, runner_now)
    assert not rt.store.promote_delayed(h.workflow_id, runner_now, start_executor=rt.settings.executor_id,
                                        app_version=rt.application_version)
    status = h.get_status()
    assert (status.status, status.delay_until_epoch_ms) == ("DELAYED", now + 3 * hour)
    assert rt.store.promote_delayed(h.workflow_id, now + 3 * hour)  # due at its new time: promoted
    assert h.get_result(timeout_seconds=WAIT) == "ran"


def _wait_status(handle: WorkflowHandle[Any], status: str) -> None:
    """Wait for a status change by wake-up (the handle's result wait would block until the end)."""
    from tether.engine.bridge import run_sync

    rt = DBOS._runtime
    assert rt is not None

    async def check() -> bool | None:
        row = await rt.io(rt.store.get_workflow, handle.workflow_id, load_input=False, load_output=False)
        return True if row is not None and row.status == status else None

    got = run_sync(rt.wait_until([("wf", handle.workflow_id, "")], check, rt.clock.now_ms() + WAIT * 1000))
    assert got, f"{handle.workflow_id} never became {status}"


def test_a_due_delayed_workflow_this_process_cannot_start_does_not_rearm_the_runner(dbos: type[DBOS]) -> None:
    """A due DELAYED workflow with no queue whose function is registered only elsewhere is left for a process
    that has it; the runner must not take it as its next due time, or it would pass every few ms forever.
    (The API always puts a delayed workflow on a queue; such a row comes from outside this process.)"""
    from tether.engine.bridge import run_sync
    from tether.engine.queues import _Pass, run_once
    from tether.storage.base import WorkflowRow

    rt = DBOS._runtime
    assert rt is not None
    now = rt.clock.now_ms()
    foreign = f"foreign-{_uid()}"
    rt.store.insert_workflow(WorkflowRow(workflow_uuid=foreign, status="DELAYED", name=f"elsewhere-{foreign}",
                                         created_at=now - 10, updated_at=now - 10, delay_until_epoch_ms=now - 10))
    q = Queue(f"later-{_uid()}")

    @DBOS.workflow(name=f"later-wf-{q.name}")
    def later() -> str:
        return "ran"

    with SetEnqueueOptions(delay_seconds=3600):
        h = q.enqueue(later)
    found = _Pass()
    run_sync(run_once(rt, found))
    later_due = h.get_status().delay_until_epoch_ms
    assert later_due is not None
    # Its timer is set for a workflow still to come due (others' on a shared database, or ours), not the skipped.
    assert found.next_due_ms is not None and now < found.next_due_ms <= later_due
    assert DBOS.get_workflow_status(foreign).status == "DELAYED"  # left for a process that has the function

    # The live runner, counted by its reads of the next due time over a second: it sleeps until a poll (1 s).
    calls = 0
    read = rt.store.next_delay_ms

    def counted(*args: Any) -> int | None:
        nonlocal calls
        calls += 1
        return read(*args)

    rt.store.next_delay_ms = counted  # type: ignore[method-assign]
    try:
        time.sleep(1.0)
    finally:
        rt.store.next_delay_ms = read  # type: ignore[method-assign]
    assert calls <= 10, f"{calls} reads of the next due time in a second"
