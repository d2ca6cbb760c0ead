"""cancel / resume / fork on both backends. Side effects are counted in Python lists of this test process (outside
the database), so each test shows exactly which steps ran again."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tether import (
    DBOS,
    AwaitedWorkflowCancelledError,
    DBOSClient,
    Queue,
    SetWorkflowID,
    WorkflowHandle,
)
from tether.engine.bridge import run_sync

WAIT = 15


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _three_steps(tag: str, ran: list[str], gate: threading.Event | None = None,
                 entered: threading.Event | None = None) -> Callable[[], str]:
    """A workflow of steps one, two, three; step two waits for ``gate`` (after setting ``entered``)."""

    @DBOS.step(name=f"one-{tag}")
    def one() -> str:
        ran.append("one")
        return "1"

    @DBOS.step(name=f"two-{tag}")
    def two() -> str:
        ran.append("two")
        if entered is not None:
            entered.set()
        if gate is not None:
            assert gate.wait(WAIT)
        return "2"

    @DBOS.step(name=f"three-{tag}")
    def three() -> str:
        ran.append("three")
        return "3"

    @DBOS.workflow(name=f"three-steps-{tag}")
    def wf() -> str:
        return one() + two() + three()

    return wf


def _wait_for(wfid: str, pred: Callable[[Any], bool]) -> None:
    """Wait, by wake-up, until the workflow's row satisfies ``pred``."""
    rt = DBOS._runtime
    assert rt is not None

    async def check() -> bool | None:
        row = await rt.io(rt.store.get_workflow, wfid, load_input=False, load_output=False)
        return True if row is not None and pred(row) else None

    assert run_sync(rt.wait_until([("wf", wfid, "")], check, rt.clock.now_ms() + WAIT * 1000))


def _wait_heard_cancel(wfid: str) -> None:
    """Wait until this process's runtime has heard (by wake-up) that ``wfid`` was cancelled elsewhere."""
    rt = DBOS._runtime
    assert rt is not None

    async def check() -> bool | None:
        return True if wfid in rt.cancelled else None

    assert run_sync(rt.wait_until([("wf", wfid, "")], check, rt.clock.now_ms() + WAIT * 1000))


def _wait_stopped(wfid: str) -> None:
    """Wait until no execution of ``wfid`` runs in this process (cancellation takes effect at its next step)."""
    rt = DBOS._runtime
    assert rt is not None
    run_sync(_stopped(rt, wfid))


async def _stopped(rt: Any, wfid: str) -> None:
    from tether.engine.queues import wait_stopped

    assert await wait_stopped(rt, wfid, WAIT)


def test_cancel_preempts_at_next_step_and_resume_continues(dbos: type[DBOS]) -> None:
    tag, ran = _tag(), []
    gate, entered = threading.Event(), threading.Event()
    wf = _three_steps(tag, ran, gate, entered)
    h: WorkflowHandle[str] = DBOS.start_workflow(wf)
    assert entered.wait(WAIT)
    DBOS.cancel_workflow(h.workflow_id)
    assert h.get_status().status == "CANCELLED"
    gate.set()  # step two finishes; step three must not run
    with pytest.raises(AwaitedWorkflowCancelledError):
        h.get_result(timeout_seconds=WAIT)
    _wait_stopped(h.workflow_id)
    assert ran == ["one", "two"]
    assert [s["function_id"] for s in DBOS.list_workflow_steps(h.workflow_id)] == [1, 2]

    resumed = DBOS.resume_workflow(h.workflow_id)
    assert resumed.get_result(timeout_seconds=WAIT) == "123"
    assert ran == ["one", "two", "three"]  # one and two replayed from checkpoints, three ran once
    status = h.get_status()
    assert status.status == "SUCCESS" and status.recovery_attempts <= 1
    DBOS.cancel_workflow(h.workflow_id)  # an ended workflow stays as it is
    assert h.get_status().status == "SUCCESS"


def test_cancel_enqueued_leaves_queue_and_resume_on_queue(dbos: type[DBOS]) -> None:
    tag = _tag()
    q = Queue(f"cq-{tag}", concurrency=1)
    gate = threading.Event()
    ran: list[int] = []

    @DBOS.workflow(name=f"cq-wf-{tag}")
    def work(i: int) -> int:
        if i == 0:
            assert gate.wait(WAIT)
        ran.append(i)
        return i

    blocker = q.enqueue(work, 0)
    _wait_for(blocker.workflow_id, lambda r: r.status == "PENDING")
    victim = q.enqueue(work, 1)
    after = q.enqueue(work, 2)
    DBOS.cancel_workflows([victim.workflow_id])
    assert victim.get_status().status == "CANCELLED"
    assert victim.workflow_id not in [r.workflow_id for r in DBOS.list_queued_workflows(queue_name=q.name)]
    gate.set()
    assert blocker.get_result(timeout_seconds=WAIT) == 0
    assert after.get_result(timeout_seconds=WAIT) == 2
    assert ran == [0, 2]  # the cancelled one never ran
    handles = DBOS.resume_workflows([victim.workflow_id], queue_name=q.name)
    assert handles[0].get_result(timeout_seconds=WAIT) == 1
    assert ran == [0, 2, 1]
    assert victim.get_status().queue_name == q.name


def test_a_cancelled_workflow_leaves_its_queue_as_in_dbos(dbos: type[DBOS], db_url: str) -> None:
    """DBOS 3.4 takes a cancelled workflow off its queue: its status has no ``queue_name``,
    ``deduplication_id`` or ``dequeued_at`` any more, and listing the queue's workflows leaves it out; it can
    still be resumed. Tether kept all three."""
    tag = _tag()
    q = Queue(f"leave-{tag}", concurrency=1)
    gate = threading.Event()

    @DBOS.workflow(name=f"leave-wf-{tag}")
    def work(i: int) -> int:
        if i == 0:
            assert gate.wait(WAIT)
        return i

    try:
        running = q.enqueue(work, 0)
        _wait_for(running.workflow_id, lambda r: r.status == "PENDING")
        with DBOSClient(db_url) as client:
            waiting = client.enqueue({"queue_name": q.name, "workflow_name": f"leave-wf-{tag}",
                                      "deduplication_id": f"dedup-{tag}"}, 1)
            client.cancel_workflow(waiting.workflow_id)
        DBOS.cancel_workflow(running.workflow_id)
        for handle in (running, waiting):
            status = handle.get_status()
            assert status.status == "CANCELLED"
            assert (status.queue_name, status.deduplication_id, status.dequeued_at) == (None, None, None)
        assert DBOS.list_workflows(queue_name=q.name) == []
    finally:
        gate.set()
    with pytest.raises(AwaitedWorkflowCancelledError):
        running.get_result(timeout_seconds=WAIT)
    assert DBOS.resume_workflow(waiting.workflow_id).get_result(timeout_seconds=WAIT) == 1


def test_resume_starts_an_enqueued_workflow_at_once(dbos: type[DBOS], db_url: str) -> None:
    tag = _tag()
    ran: list[str] = []

    @DBOS.workflow(name=f"now-{tag}")
    def work(x: str) -> str:
        ran.append(x)
        return x

    with DBOSClient(db_url) as client:
        wfid = client.enqueue({"queue_name": f"nobody-serves-{tag}", "workflow_name": f"now-{tag}"}, "x").workflow_id
    assert DBOS.retrieve_workflow(wfid).get_status().status == "ENQUEUED"
    assert DBOS.resume_workflow(wfid).get_result(timeout_seconds=WAIT) == "x"
    assert ran == ["x"]


def test_resume_after_max_recovery_attempts(dbos: type[DBOS]) -> None:
    tag, ran = _tag(), []
    gate, entered = threading.Event(), threading.Event()
    wf = _three_steps(tag, ran, gate, entered)
    h: WorkflowHandle[str] = DBOS.start_workflow(wf)
    assert entered.wait(WAIT)
    DBOS.cancel_workflow(h.workflow_id)
    gate.set()
    _wait_stopped(h.workflow_id)
    rt = DBOS._rt()
    # What recovery leaves after too many crashes (simulated; the crash tests cover the real thing).
    rt.store.set_status([h.workflow_id], "MAX_RECOVERY_ATTEMPTS_EXCEEDED", rt.clock.now_ms())

    async def resume() -> str:
        ha = await DBOS.resume_workflow_async(h.workflow_id)
        return str(await ha.get_result(timeout_seconds=WAIT))

    assert asyncio.run(resume()) == "123"
    assert ran == ["one", "two", "three"]


def test_resume_is_a_no_op_for_ended_workflows_and_fails_for_unknown(dbos: type[DBOS]) -> None:
    tag, ran = _tag(), []
    wf = _three_steps(tag, ran)
    with SetWorkflowID(f"done-{tag}"):
        assert wf() == "123"
    assert DBOS.resume_workflow(f"done-{tag}").get_result(timeout_seconds=WAIT) == "123"
    assert ran == ["one", "two", "three"]
    with pytest.raises(LookupError):
        DBOS.resume_workflow(f"missing-{tag}")


def test_fork_reuses_checkpoints_before_start_step(dbos: type[DBOS]) -> None:
    tag, ran = _tag(), []
    wf = _three_steps(tag, ran)
    with SetWorkflowID(f"orig-{tag}"):
        assert wf() == "123"
    assert ran == ["one", "two", "three"]

    fork3 = DBOS.fork_workflow(f"orig-{tag}", 3)
    assert fork3.get_result(timeout_seconds=WAIT) == "123"
    assert ran == ["one", "two", "three", "three"]  # only step three ran again

    with SetWorkflowID(f"fork2-{tag}"):
        fork2 = DBOS.fork_workflow(f"orig-{tag}", 2, application_version=DBOS.application_version)
    assert fork2.workflow_id == f"fork2-{tag}"
    assert fork2.get_result(timeout_seconds=WAIT) == "123"
    assert ran[4:] == ["two", "three"]

    fork1 = DBOS.fork_workflow(f"orig-{tag}", 1)  # nothing reused
    assert fork1.get_result(timeout_seconds=WAIT) == "123"
    assert ran[6:] == ["one", "two", "three"]

    forks = DBOS.list_workflows(forked_from=f"orig-{tag}")
    assert {f.workflow_id for f in forks} == {fork1.workflow_id, fork2.workflow_id, fork3.workflow_id}
    assert all(f.forked_from == f"orig-{tag}" and f.status == "SUCCESS" for f in forks)
    assert [s["function_name"] for s in DBOS.list_workflow_steps(fork3.workflow_id)] == [
        f"one-{tag}", f"two-{tag}", f"three-{tag}"]
    with pytest.raises(LookupError):
        DBOS.fork_workflow(f"missing-{tag}", 1)
    with pytest.raises(ValueError):
        DBOS.fork_workflow(f"orig-{tag}", -1)  # 0, as 1, reruns every step (as DBOS)


def test_fork_async_and_to_another_version_goes_through_the_internal_queue(dbos: type[DBOS]) -> None:
    tag, ran = _tag(), []
    wf = _three_steps(tag, ran)
    with SetWorkflowID(f"orig-{tag}"):
        wf()

    async def fork() -> str:
        h = await DBOS.fork_workflow_async(f"orig-{tag}", 3)
        return str(await h.get_result(timeout_seconds=WAIT))

    assert asyncio.run(fork()) == "123"
    assert ran == ["one", "two", "three", "three"]
    other = DBOS.fork_workflow(f"orig-{tag}", 2, application_version="some-future-version")
    status = other.get_status()
    # No process of that version runs here, so it waits on the internal queue.
    assert (status.status, status.app_version) == ("ENQUEUED", "some-future-version")
    DBOS.cancel_workflow(other.workflow_id)


def test_client_cancels_resumes_and_forks(dbos: type[DBOS], db_url: str) -> None:
    tag, ran = _tag(), []
    gate, entered = threading.Event(), threading.Event()
    wf = _three_steps(tag, ran, gate, entered)
    h: WorkflowHandle[str] = DBOS.start_workflow(wf)
    assert entered.wait(WAIT)
    with DBOSClient(db_url) as client:
        client.cancel_workflow(h.workflow_id)
        _wait_heard_cancel(h.workflow_id)  # the app learns of it through its listener
        gate.set()
        _wait_stopped(h.workflow_id)
        assert ran == ["one", "two"]
        # A client runs no workflows: resumed and forked workflows go to the internal queue, served here.
        assert client.resume_workflow(h.workflow_id).get_result(timeout_seconds=WAIT) == "123"
        assert ran == ["one", "two", "three"]
        forked = client.fork_workflow(h.workflow_id, 3)
        assert forked.get_result(timeout_seconds=WAIT) == "123"
        assert ran == ["one", "two", "three", "three"]

        async def more() -> None:
            await client.cancel_workflows_async([forked.workflow_id])  # ended: no effect
            ha = await client.fork_workflow_async(h.workflow_id, 4)
            await ha.get_result(timeout_seconds=WAIT)
            assert (await client.resume_workflows_async([ha.workflow_id]))[0].workflow_id == ha.workflow_id

        asyncio.run(more())
        assert ran == ["one", "two", "three", "three"]  # a fork from step 4 replays all three


def test_cancel_async_workflow_waiting_in_recv(dbos: type[DBOS]) -> None:
    tag = _tag()
    ran: list[str] = []

    @DBOS.step(name=f"after-{tag}")
    async def after() -> None:
        ran.append("after")

    @DBOS.workflow(name=f"recv-{tag}")
    async def wf() -> str:
        msg = await DBOS.recv_async("go", timeout_seconds=WAIT)
        await after()
        return str(msg)

    async def main() -> None:
        h = await DBOS.start_workflow_async(wf)
        await DBOS.cancel_workflow_async(h.workflow_id)
        with pytest.raises(AwaitedWorkflowCancelledError):
            await h.get_result(timeout_seconds=WAIT)
        await DBOS.send_async(h.workflow_id, "hello", "go")
        resumed = (await DBOS.resume_workflows_async([h.workflow_id]))[0]
        assert await resumed.get_result(timeout_seconds=WAIT) == "hello"

    asyncio.run(main())
    assert ran == ["after"]


def test_cancel_and_resume_a_delayed_workflow(dbos: type[DBOS]) -> None:
    from tether import SetEnqueueOptions

    tag = _tag()
    ran: list[int] = []
    queue = f"delayed-q-{tag}"
    DBOS.register_queue(queue)

    @DBOS.workflow(name=f"delayed-{tag}")
    def work(x: int) -> int:
        ran.append(x)
        return x

    with SetEnqueueOptions(delay_seconds=3600):
        h = DBOS.enqueue_workflow(queue, work, 1)
    assert [s.workflow_id for s in DBOS.list_workflows(status="DELAYED", name=f"delayed-{tag}")] == [h.workflow_id]
    DBOS.cancel_workflow(h.workflow_id)
    assert h.get_status().status == "CANCELLED"
    DBOS.set_workflow_delay(h.workflow_id, delay_seconds=0)  # not DELAYED any more: no effect
    assert h.get_status().status == "CANCELLED" and ran == []
    assert DBOS.resume_workflow(h.workflow_id).get_result(timeout_seconds=WAIT) == 1
    with SetEnqueueOptions(delay_seconds=3600):
        h2 = DBOS.enqueue_workflow(queue, work, 2)
    assert DBOS.resume_workflow(h2.workflow_id).get_result(timeout_seconds=WAIT) == 2  # starts it now
    assert ran == [1, 2]


def test_sync_resume_and_fork_of_an_async_workflow(dbos: type[DBOS]) -> None:
    """The sync API runs on a private loop that stops with the call; the workflow must still run to the end."""
    tag = _tag()
    ran: list[str] = []

    @DBOS.step(name=f"astep-{tag}")
    async def astep(x: str) -> str:
        ran.append(x)
        await asyncio.sleep(0.05)  # the workload: still running when the sync call has returned
        return x

    @DBOS.workflow(name=f"aw-{tag}")
    async def wf() -> str:
        return await astep("a") + await astep("b")

    async def run() -> str:
        with SetWorkflowID(f"aw-{tag}"):
            return await wf()

    def elsewhere(handle: WorkflowHandle[Any]) -> Any:  # wait from another thread, leaving this one idle
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(handle.get_result, timeout_seconds=WAIT).result()

    assert asyncio.run(run()) == "ab"
    fork = DBOS.fork_workflow(f"aw-{tag}", 2)
    assert elsewhere(fork) == "ab"
    assert ran == ["a", "b", "b"]
    DBOS._rt().store.set_status([fork.workflow_id], "CANCELLED", DBOS._rt().clock.now_ms())
    assert elsewhere(DBOS.resume_workflow(fork.workflow_id)) == "ab"
    assert ran == ["a", "b", "b"]  # everything replayed
