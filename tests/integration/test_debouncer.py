"""The debouncer on both backends: one run per burst with the last arguments, the timeout, separate keys and
debouncers, the client, calls from inside a workflow, and a debounce that outlives the process holding it.

Time comes from an injected clock where the rule allows it: a debounce's start time is recorded in the
database, so a clock moved forward makes the delay pass at once instead of waiting for it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    DBOSClient,
    Debouncer,
    DebouncerClient,
    Queue,
    QueueDeduplicatedError,
    SetEnqueueOptions,
    SetWorkflowID,
)
from tether.engine.clock import OffsetClock

WAIT = 20.0


def _uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def clocked(db_url: str) -> Any:
    """A launched DBOS whose clock the test moves forward."""
    clock = OffsetClock(0)
    DBOS(config=make_config(db_url), clock=clock)
    DBOS.launch()
    try:
        yield clock
    finally:
        DBOS.destroy()


def test_a_burst_runs_once_with_the_last_arguments(clocked: OffsetClock) -> None:
    calls: list[int] = []

    @DBOS.workflow(name=f"burst-{_uid()}")
    def burst(x: int) -> int:
        calls.append(x)
        return x

    deb = Debouncer.create(burst)
    # A long period: nothing starts while the burst goes on (the clock does not move).
    handles = [deb.debounce("k", 3600, i) for i in range(5)]
    assert len({h.workflow_id for h in handles}) == 1
    status = DBOS.get_workflow_status(handles[0].workflow_id)
    assert status is not None and status.status == "DELAYED" and status.is_debounced
    assert status.args == (4,)
    assert calls == []
    clocked.advance(3601)  # the period after the last call has passed
    assert handles[0].get_result(timeout_seconds=WAIT) == 4
    assert calls == [4]
    # The next call with the key starts a new burst, and a new workflow.
    later = deb.debounce("k", 0, 9)
    assert later.workflow_id != handles[0].workflow_id
    assert later.get_result(timeout_seconds=WAIT) == 9


def test_each_call_pushes_the_start_back_but_never_past_the_timeout(clocked: OffsetClock) -> None:
    @DBOS.workflow(name=f"pushed-{_uid()}")
    def pushed(x: int) -> int:
        return x

    deb = Debouncer.create(pushed, debounce_timeout_sec=100)
    first = deb.debounce("k", 60, 1)
    start = DBOS.get_workflow_status(first.workflow_id)
    assert start is not None and start.delay_until_epoch_ms is not None
    t0 = start.delay_until_epoch_ms - 60_000  # the first call's time
    assert start.debounce_deadline_epoch_ms == t0 + 100_000
    clocked.advance(30)
    deb.debounce("k", 60, 2)  # pushed to 30 + 60 = 90 s after the first call
    s2 = DBOS.get_workflow_status(first.workflow_id)
    assert s2 is not None and s2.delay_until_epoch_ms is not None
    assert t0 + 90_000 <= s2.delay_until_epoch_ms < t0 + 91_000
    clocked.advance(50)
    deb.debounce("k", 60, 3)  # 80 + 60 = 140 s, capped at the 100 s timeout
    s3 = DBOS.get_workflow_status(first.workflow_id)
    assert s3 is not None and s3.delay_until_epoch_ms == t0 + 100_000
    assert s3.args == (3,)
    clocked.advance(21)
    assert first.get_result(timeout_seconds=WAIT) == 3


def test_keys_and_debouncers_are_separate(dbos: type[DBOS]) -> None:
    @DBOS.workflow(name=f"sep-{_uid()}")
    def sep(x: int) -> int:
        return x

    one, two = Debouncer.create(sep), Debouncer.create(sep)
    a1, a2 = one.debounce("a", 0.2, 1), one.debounce("a", 0.2, 2)
    b1, b2 = two.debounce("b", 0.2, 3), two.debounce("b", 0.2, 4)
    assert a1.workflow_id == a2.workflow_id != b1.workflow_id == b2.workflow_id
    assert (a1.get_result(), b2.get_result()) == (2, 4)


def test_a_key_held_by_another_workflow_is_refused(dbos: type[DBOS]) -> None:
    queue = Queue(f"held-{_uid()}")

    @DBOS.workflow(name=f"held-{_uid()}")
    def held(x: int) -> int:
        return x

    deb = Debouncer.create(held, queue=queue)
    with SetEnqueueOptions(deduplication_id=f"{deb.workflow_name}-k", delay_seconds=3600):
        blocker = queue.enqueue(held, 0)
    with pytest.raises(QueueDeduplicatedError):
        deb.debounce("k", 1, 1)
    DBOS.cancel_workflow(blocker.workflow_id)


def test_debounce_from_a_client_and_on_a_named_queue(dbos: type[DBOS], db_url: str) -> None:
    queue = Queue(f"deb-q-{_uid()}")
    name = f"client-deb-{_uid()}"

    @DBOS.workflow(name=name)
    def from_client(x: str) -> str:
        return x

    with DBOSClient(db_url) as client:
        deb = DebouncerClient(client, {"workflow_name": name, "queue_name": queue.name}, debounce_timeout_sec=30)
        h1 = deb.debounce("k", 0.3, "first")
        h2 = deb.debounce("k", 0.3, "last")
        assert h1.workflow_id == h2.workflow_id
        assert h2.get_result(timeout_seconds=WAIT) == "last"
    status = DBOS.get_workflow_status(h1.workflow_id)
    assert status is not None and status.queue_name == queue.name


def test_debounce_inside_a_workflow_is_checkpointed(dbos: type[DBOS]) -> None:
    @DBOS.workflow(name=f"inner-{_uid()}")
    def inner(x: int) -> int:
        return x

    deb = Debouncer.create(inner)

    @DBOS.workflow(name=f"outer-{_uid()}")
    def outer() -> str:
        return deb.debounce("k", 0.1, 7).workflow_id

    with SetWorkflowID(f"outer-{_uid()}"):
        handle = DBOS.start_workflow(outer)
    child = handle.get_result()
    assert DBOS.retrieve_workflow(child).get_result(timeout_seconds=WAIT) == 7
    names = [s["function_name"] for s in DBOS.list_workflow_steps(handle.workflow_id)]
    assert names[0] == "DBOS.debounce"
    # A fork replays the recorded debounce instead of debouncing again.
    forked = DBOS.fork_workflow(handle.workflow_id, len(names) + 1)
    assert forked.get_result() == child


def test_async_form(dbos: type[DBOS]) -> None:
    @DBOS.workflow(name=f"async-deb-{_uid()}")
    async def adeb(x: int) -> int:
        return x

    async def run() -> int:
        deb = Debouncer.create_async(adeb)
        h1 = await deb.debounce_async("k", 0.2, 1)
        h2 = await deb.debounce_async("k", 0.2, 2)
        assert h1.workflow_id == h2.workflow_id
        return await h2.get_result()

    assert asyncio.run(run()) == 2


def test_a_debounce_survives_the_process_that_made_it(db_url: str) -> None:
    """The process holding a debounce stops before its delay passes; the next launch runs it."""
    ran: list[int] = []
    name = f"survive-{_uid()}"

    @DBOS.workflow(name=name)
    def survive(x: int) -> int:
        ran.append(x)
        return x

    config = make_config(db_url)
    DBOS(config=config, clock=OffsetClock(0))
    DBOS.launch()
    deb = Debouncer.create(survive)
    deb.debounce("k", 600, 1)
    wfid = deb.debounce("k", 600, 2).workflow_id
    DBOS.destroy()
    assert ran == []
    DBOS(config=config, clock=OffsetClock(601))
    DBOS.launch()
    try:
        assert DBOS.retrieve_workflow(wfid).get_result(timeout_seconds=WAIT) == 2
        assert ran == [2]
    finally:
        DBOS.destroy()


def test_a_debounced_workflow_belongs_to_the_application_the_debouncer_names(dbos: type[DBOS], db_url: str) -> None:
    name = f"owned-deb-{_uid()}"

    @DBOS.workflow(name=name)
    def owned(x: int) -> int:
        return x

    mine = Debouncer.create(owned).debounce("k", 3600, 1)  # never started here: only its record is looked at
    theirs = Debouncer.create(owned, application_name="billing").debounce("other", 3600, 2)
    with DBOSClient(db_url, application_name="billing") as billing:
        by_client = DebouncerClient(billing, {"workflow_name": name}).debounce("c", 3600, 3)
        named = DebouncerClient(billing, {"workflow_name": name}, application_name="shop").debounce("d", 3600, 4)
        with pytest.raises(TypeError):  # not text: refused before anything is written
            DebouncerClient(billing, {"workflow_name": name}, application_name=5)  # type: ignore[arg-type]
    owners = {h.workflow_id: DBOS.get_workflow_status(h.workflow_id).application_name  # type: ignore[union-attr]
              for h in (mine, theirs, by_client, named)}
    assert owners == {mine.workflow_id: "tether-test", theirs.workflow_id: "billing",
                      by_client.workflow_id: "billing", named.workflow_id: "shop"}
    for h in (mine, theirs, by_client, named):
        DBOS.cancel_workflow(h.workflow_id)
