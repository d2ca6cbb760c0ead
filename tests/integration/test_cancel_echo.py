"""A cancel heard late from the listener (engine/runtime.py ``_on_remote_wakeup``): after a resume, it must
not stop the resumed run, and must stop the run the cancel was meant for. Both backends.

The listener is stopped and the cancel and resume are written through another store on the same database (as
another process's client would), then the late notification is delivered by hand: no timing is involved.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.conftest import make_config
from tether import DBOS, SetWorkflowID
from tether.config import parse_database_url
from tether.engine.queues import INTERNAL_QUEUE
from tether.storage import Store, open_store

RAN: Counter[str] = Counter()


@DBOS.step()
def first_step(wfid: str) -> None:
    RAN[f"{wfid}:one"] += 1


@DBOS.step()
def second_step(wfid: str) -> None:
    RAN[f"{wfid}:two"] += 1


@DBOS.workflow()
def one_recv_two() -> object:
    wfid = DBOS.workflow_id
    assert wfid is not None
    first_step(wfid)
    try:
        msg = DBOS.recv("go", timeout_seconds=60)
    finally:
        RAN[f"{wfid}:left recv"] += 1  # per execution: the stopped one leaves by an exception
    second_step(wfid)
    return msg


@pytest.fixture
def other(db_url: str) -> Iterator[Store]:
    """A launched DBOS that hears no other connection's writes, and a store to write behind its back."""
    DBOS(config=make_config(db_url))
    DBOS.launch()
    store = open_store(parse_database_url(db_url))
    try:
        DBOS._rt()._listener.stop()
        yield store
    finally:
        store.close()
        DBOS.destroy()


def _parked(wfid: str) -> None:
    rt = DBOS._rt()
    deadline = time.monotonic() + 10
    while rt.hub.count("msg", parked=True) < 1 or wfid not in rt.active:
        assert time.monotonic() < deadline, "the workflow never parked in recv"
        time.sleep(0.005)


def _start() -> str:
    wfid = f"echo-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(one_recv_two)
    _parked(wfid)
    return wfid


def test_a_cancel_heard_after_the_workflow_was_queued_again_stops_the_run_it_was_meant_for(other: Store) -> None:
    rt = DBOS._rt()
    wfid = _start()
    now = rt.clock.now_ms()
    # Another process's client cancels the workflow and resumes it: it is queued again, to run anew.
    assert other.set_status([wfid], "CANCELLED", now) == [wfid]
    assert other.set_status([wfid], "ENQUEUED", now, queue_name=INTERNAL_QUEUE,
                            reset_recovery=True, started_at=None) == [wfid]
    rt._on_remote_wakeup("wf", wfid, "CANCELLED")  # the cancel's notification, heard only now
    # The run the cancel was meant for stops. This process's queue dispatcher may start the queued workflow
    # anew as soon as it has, so watch the run leaving its recv, not the workflow ID leaving rt.active.
    deadline = time.monotonic() + 10
    while RAN[f"{wfid}:left recv"] < 1:
        assert time.monotonic() < deadline, "the cancelled run kept running"
        time.sleep(0.005)
    DBOS.send(wfid, "go!", "go")
    assert DBOS.retrieve_workflow(wfid).get_result(polling_interval_sec=0.05) == "go!"
    assert (RAN[f"{wfid}:one"], RAN[f"{wfid}:two"]) == (1, 1)  # the resumed run replayed one; two ran once


def test_a_cancel_heard_after_a_resume_here_does_not_stop_the_resumed_run(other: Store) -> None:
    rt = DBOS._rt()
    wfid = _start()
    DBOS.cancel_workflow(wfid)  # here: the run stops at once
    deadline = time.monotonic() + 10
    while wfid in rt.active:
        assert time.monotonic() < deadline, "the cancelled run kept running"
        time.sleep(0.005)
    DBOS.resume_workflow(wfid)  # resumed here: PENDING, owned by this process, running again
    _parked(wfid)
    rt._on_remote_wakeup("wf", wfid, "CANCELLED")  # the echo of the cancel, heard late
    DBOS.send(wfid, "go!", "go")
    assert DBOS.retrieve_workflow(wfid).get_result(polling_interval_sec=0.05) == "go!"
    assert (RAN[f"{wfid}:one"], RAN[f"{wfid}:two"]) == (1, 1)
