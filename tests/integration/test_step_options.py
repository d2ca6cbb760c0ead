"""Step options on both backends: a per-attempt timeout of async steps, ``should_retry``, preemption by a
cancellation of the workflow, and the errors that say which option went wrong. Invocations are counted in
Python lists of this process, so each test shows exactly how often the body ran."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tether import DBOS, AwaitedWorkflowCancelledError, MaxStepRetriesExceeded, SetWorkflowID
from tether.errors import DBOSStepTimeoutError as StepTimeoutError
from tether.errors import DBOSUnexpectedStepError as UnexpectedStepError
from tether.errors import StepOptionsError


class Fatal(Exception):
    pass


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_timeout_cancels_an_async_step_and_is_recorded(dbos: type[DBOS]) -> None:
    async def body() -> None:
        calls: list[str] = []
        cleaned: list[bool] = []
        tag = _tag()

        @DBOS.step(name=f"slow-{tag}", timeout_seconds=0.2)
        async def slow() -> str:
            calls.append("slow")
            try:
                await asyncio.sleep(30)
            finally:
                cleaned.append(True)
            return "never"

        @DBOS.workflow(name=f"catching-{tag}")
        async def catching() -> str:
            try:
                return await slow()
            except StepTimeoutError as exc:
                return f"timed out after {exc.timeout_seconds}"

        wfid = f"timeout-{tag}"
        with SetWorkflowID(wfid):
            assert await catching() == "timed out after 0.2"
        assert calls == ["slow"] and cleaned == [True]
        steps = await DBOS.list_workflow_steps_async(wfid)
        assert [s["function_name"] for s in steps] == [f"slow-{tag}"]
        assert isinstance(steps[0]["error"], StepTimeoutError)
        # A fork past the step replays the recorded timeout: the body does not run again.
        forked = await DBOS.fork_workflow_async(wfid, 2)
        assert await forked.get_result() == "timed out after 0.2"
        assert calls == ["slow"]

    asyncio.run(body())


def test_each_attempt_gets_its_own_timeout(dbos: type[DBOS]) -> None:
    async def body() -> None:
        calls: list[int] = []
        tag = _tag()

        @DBOS.step(name=f"flaky-{tag}", timeout_seconds=0.3, retries_allowed=True, max_attempts=3,
                   interval_seconds=0)
        async def flaky() -> str:
            calls.append(len(calls))
            await asyncio.sleep(30 if len(calls) == 1 else 0.1)
            return "done"

        @DBOS.step(name=f"hopeless-{tag}", timeout_seconds=0.1, retries_allowed=True, max_attempts=2,
                   interval_seconds=0)
        async def hopeless() -> None:
            await asyncio.sleep(30)

        @DBOS.workflow(name=f"flaky-wf-{tag}")
        async def wf() -> str:
            return await flaky()

        @DBOS.workflow(name=f"hopeless-wf-{tag}")
        async def hopeless_wf() -> None:
            await hopeless()

        assert await wf() == "done"
        assert calls == [0, 1]
        with pytest.raises(MaxStepRetriesExceeded) as info:
            await hopeless_wf()
        assert len(info.value.errors) == 2
        assert all(isinstance(e, StepTimeoutError) for e in info.value.errors)

    asyncio.run(body())


def test_sync_workflow_runs_an_async_step_with_a_timeout(dbos: type[DBOS]) -> None:
    async def slow() -> None:
        await asyncio.sleep(30)

    @DBOS.workflow(name=f"sync-wf-{_tag()}")
    def wf() -> str:
        try:
            DBOS.run_step({"timeout_seconds": 0.1}, slow)
        except StepTimeoutError:
            return "timed out"
        return "finished"

    assert wf() == "timed out"


def test_invalid_step_options_are_refused_up_front(dbos: type[DBOS]) -> None:
    with pytest.raises(StepOptionsError, match="only supported for async steps"):
        @DBOS.step(timeout_seconds=1)
        def sync_step() -> None:
            pass
    with pytest.raises(StepOptionsError, match="Preemption is only supported for async steps"):
        @DBOS.step(preemptible=True)
        def sync_preemptible() -> None:
            pass
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(StepOptionsError, match="positive and finite"):
            @DBOS.step(timeout_seconds=bad)
            async def bad_step() -> None:
                pass

    async def validator(exc: BaseException) -> bool:
        return True

    def plain() -> None:
        raise Fatal("x")

    @DBOS.workflow(name=f"bad-validator-{_tag()}")
    def wf() -> None:
        DBOS.run_step({"retries_allowed": True, "should_retry": validator}, plain)

    with pytest.raises(StepOptionsError, match="should_retry is async"):
        wf()


def test_should_retry_stops_retries_and_keeps_the_original_error(dbos: type[DBOS]) -> None:
    calls: list[str] = []
    tag = _tag()

    @DBOS.step(name=f"fatal-{tag}", retries_allowed=True, max_attempts=4, interval_seconds=0,
               should_retry=lambda e: not isinstance(e, Fatal))
    def step() -> None:
        calls.append("try")
        if len(calls) < 3:
            raise RuntimeError("transient")
        raise Fatal("stop")

    @DBOS.workflow(name=f"fatal-wf-{tag}")
    def wf() -> None:
        step()

    with pytest.raises(Fatal, match="stop"):
        wf()
    assert calls == ["try", "try", "try"]


def test_async_should_retry_is_awaited(dbos: type[DBOS]) -> None:
    async def body() -> None:
        calls: list[str] = []
        tag = _tag()

        async def retry_unless_fatal(exc: BaseException) -> bool:
            await asyncio.sleep(0)
            return not isinstance(exc, Fatal)

        @DBOS.step(name=f"async-fatal-{tag}", retries_allowed=True, max_attempts=4, interval_seconds=0,
                   should_retry=retry_unless_fatal)
        async def step() -> None:
            calls.append("try")
            raise Fatal("stop")

        @DBOS.workflow(name=f"async-fatal-wf-{tag}")
        async def wf() -> None:
            await step()

        with pytest.raises(Fatal):
            await wf()
        assert calls == ["try"]

    asyncio.run(body())


def test_preemptible_step_is_cancelled_with_its_workflow_and_reruns_on_resume(dbos: type[DBOS]) -> None:
    async def body() -> None:
        calls: list[str] = []
        stopped: list[bool] = []
        started = asyncio.Event()
        tag = _tag()

        @DBOS.step(name=f"long-{tag}", preemptible=True, retries_allowed=True, max_attempts=5,
                   interval_seconds=0)
        async def long_step() -> str:
            calls.append("run")
            if len(calls) == 1:
                started.set()
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    stopped.append(True)
                    raise
            return "done"

        @DBOS.workflow(name=f"long-wf-{tag}")
        async def wf() -> str:
            return await long_step()

        wfid = f"preempt-{tag}"
        with SetWorkflowID(wfid):
            handle = await DBOS.start_workflow_async(wf)
        await asyncio.wait_for(started.wait(), 15)
        await DBOS.cancel_workflow_async(wfid)
        with pytest.raises(AwaitedWorkflowCancelledError):
            await handle.get_result()
        assert stopped == [True] and calls == ["run"]  # cancelled mid-way, and not retried
        assert await DBOS.list_workflow_steps_async(wfid) == []  # nothing recorded for the preempted step
        resumed = await DBOS.resume_workflow_async(wfid)
        assert await resumed.get_result() == "done"
        assert calls == ["run", "run"]

    asyncio.run(body())


def test_replay_of_another_step_at_the_same_number_is_refused(dbos: type[DBOS]) -> None:
    tag = _tag()
    which = ["first"]

    @DBOS.step(name=f"first-{tag}")
    def first() -> None:
        pass

    @DBOS.step(name=f"second-{tag}")
    def second() -> None:
        pass

    @DBOS.workflow(name=f"changing-{tag}")
    def wf() -> None:
        first() if which[0] == "first" else second()

    wfid = f"changing-{tag}"
    with SetWorkflowID(wfid):
        wf()
    which[0] = "second"
    with pytest.raises(UnexpectedStepError):
        DBOS.fork_workflow(wfid, 2).get_result()
