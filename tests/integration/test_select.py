"""DBOS.select / select_async, on both backends, from sync and async workflows: who wins, what is taken, what
stays queued, timeouts, events and other workflows' ends, replay, bad input, and wake-ups from outside."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tether import (
    DBOS,
    ArgumentTypeError,
    AwaitedWorkflowCancelledError,
    DBOSClient,
    InvalidArgumentError,
    NotInWorkflowError,
    Selected,
    SetWorkflowID,
    on_completion,
    on_event,
    on_message,
)
from tether.http import create_gateway
from tether.selection import Source

WAIT = 30


def summary(got: Selected | None, rest: list[Any]) -> dict[str, Any]:
    if got is None:
        return {"got": None, "rest": rest}
    error = None if got.error is None else type(got.error).__name__
    return {"got": [got.index, got.kind, got.value, got.status, error], "rest": rest}


@DBOS.workflow(name="test_select.gated")
def gated(sources: list[Source], drain: list[str | None], timeout: float) -> dict[str, Any]:
    """Waits for a message on "gate" (so a test can queue messages first), selects, then takes what is left
    on the ``drain`` topics (None for an empty topic)."""
    DBOS.recv("gate", timeout_seconds=WAIT)
    got = DBOS.select(sources, timeout_seconds=timeout)
    return summary(got, [DBOS.recv(t, timeout_seconds=0) for t in drain])


@DBOS.workflow(name="test_select.gated_async")
async def gated_async(sources: list[Source], drain: list[str | None], timeout: float) -> dict[str, Any]:
    await DBOS.recv_async("gate", timeout_seconds=WAIT)
    got = await DBOS.select_async(sources, timeout_seconds=timeout)
    return summary(got, [await DBOS.recv_async(t, timeout_seconds=0) for t in drain])


@DBOS.workflow(name="test_select.child")
def child(outcome: str) -> str:
    DBOS.recv("go", timeout_seconds=WAIT)
    if outcome == "fail":
        raise ValueError("boom")
    return f"child says {outcome}"


@DBOS.workflow(name="test_select.publisher")
def publisher(value: Any) -> None:
    DBOS.set_event("k", value)


MODES = {"sync": gated, "async": gated_async}


def start(mode: str, sources: list[Source], drain: list[str | None] = (), timeout: float = WAIT,  # type: ignore[assignment]
          gate: bool = True) -> str:
    wfid = f"sel-{mode}-{uuid.uuid4().hex[:10]}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(MODES[mode], sources, list(drain), timeout)
    if gate:
        DBOS.send(wfid, "open", "gate")
    return wfid


def queue_then_open(mode: str, sources: list[Source], sends: list[tuple[Any, str | None]],
                    drain: list[str | None]) -> tuple[str, dict[str, Any]]:
    """Queue ``sends`` first, then let the workflow select: several sources are ready at once."""
    wfid = start(mode, sources, drain, gate=False)
    for value, topic in sends:
        DBOS.send(wfid, value, topic)
    DBOS.send(wfid, "open", "gate")
    return wfid, dict(DBOS.get_result(wfid))


def wait_parked(kind: str, workflow_id: str, key: str) -> None:
    """Until a waiter on (kind, workflow_id, key) is registered: the workflow is inside select, waiting."""
    rt = DBOS._rt()
    for _ in range(3000):
        if any((kind, workflow_id, key) in w.keys for w in rt.hub.snapshot()):
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"nobody waits on {(kind, workflow_id, key)}")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_first_ready_in_list_order_wins_and_takes_one_message(dbos: type[DBOS], mode: str) -> None:
    _, out = queue_then_open(mode, [on_message("a"), on_message("b")],
                          [("b1", "b"), ("a1", "a"), ("a2", "a")], drain=["a", "b", "b"])
    assert out["got"] == [0, "message", "a1", None, None]
    assert out["rest"] == ["a2", "b1", None]  # exactly one message taken; the losers stay queued, in order


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_later_send_wakes_the_select(dbos: type[DBOS], mode: str) -> None:
    wfid = start(mode, [on_message("a"), on_message("b"), on_message(None)], drain=["a"])
    wait_parked("msg", wfid, "a")
    DBOS.send(wfid, {"n": 1}, None)
    assert DBOS.get_result(wfid) == {"got": [2, "message", {"n": 1}, None, None], "rest": [None]}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_timeout_returns_none_and_takes_nothing(dbos: type[DBOS], mode: str) -> None:
    wfid = start(mode, [on_message("x")], drain=["y"], timeout=0.2, gate=False)
    DBOS.send(wfid, "kept", "y")
    DBOS.send(wfid, "open", "gate")
    assert DBOS.get_result(wfid) == {"got": None, "rest": ["kept"]}
    names = [s["function_name"] for s in DBOS.list_workflow_steps(wfid)]
    assert names[2:4] == ["DBOS.select", "DBOS.sleep"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_event_of_another_workflow_fires(dbos: type[DBOS], mode: str) -> None:
    pub = f"pub-{uuid.uuid4().hex[:8]}"  # does not exist yet when the select starts
    wfid = start(mode, [on_message("a"), on_event(pub, "k")], drain=["a"])
    wait_parked("event", pub, "k")
    with SetWorkflowID(pub):
        DBOS.start_workflow(publisher, [1, "two"])
    assert DBOS.get_result(wfid) == {"got": [1, "event", [1, "two"], None, None], "rest": [None]}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("outcome", ["ok", "fail", "cancel"])
def test_the_end_of_another_workflow_fires(dbos: type[DBOS], mode: str, outcome: str) -> None:
    kid = DBOS.start_workflow(child, outcome)
    wfid = start(mode, [on_message("a"), on_completion(kid)], drain=["a"])
    wait_parked("wf", kid.workflow_id, "")
    if outcome == "cancel":
        DBOS.cancel_workflow(kid.workflow_id)
    else:
        DBOS.send(kid.workflow_id, "go", "go")
    got = DBOS.get_result(wfid)["got"]
    expected = {"ok": [1, "completion", "child says ok", "SUCCESS", None],
                "fail": [1, "completion", None, "ERROR", "ValueError"],
                "cancel": [1, "completion", None, "CANCELLED", "AwaitedWorkflowCancelledError"]}[outcome]
    assert got == expected


def test_result_raises_what_get_result_would(dbos: type[DBOS]) -> None:
    kid = DBOS.start_workflow(child, "fail")
    DBOS.send(kid.workflow_id, "go", "go")
    with pytest.raises(ValueError):
        kid.get_result()

    @DBOS.workflow(name="test_select.result_raises")
    def waits_for(kid_id: str) -> str:
        got = DBOS.select([on_completion(kid_id)], timeout_seconds=WAIT)
        assert got is not None
        try:
            got.result()
        except ValueError as exc:
            return f"raised {exc}"
        return "no error"

    assert waits_for(kid.workflow_id) == "raised boom"


def test_replay_returns_the_recorded_winner(dbos: type[DBOS]) -> None:
    """A fork from the step after the select replays it (as recovery would): same winner, same value, and
    nothing is looked at again (the fork's own mailbox is empty)."""
    original, out = queue_then_open("sync", [on_message("a"), on_message("b")], [("b1", "b")], drain=["b"])
    assert out == {"got": [1, "message", "b1", None, None], "rest": [None]}
    fork = DBOS.fork_workflow(original, 5)  # steps 1-2: recv "gate"; 3-4: select; 5-6: recv "b"
    assert fork.get_result()["got"] == [1, "message", "b1", None, None]


def test_bad_input_raises_before_anything_is_written(dbos: type[DBOS]) -> None:
    with pytest.raises(NotInWorkflowError):
        DBOS.select([on_message("a")])

    @DBOS.step()
    def in_a_step() -> None:
        DBOS.select([on_message("a")], timeout_seconds=0)

    @DBOS.workflow(name="test_select.bad_input")
    def bad_input() -> list[str]:
        me = DBOS.workflow_id
        assert me is not None
        raised = []
        for sources, timeout in [([], 1), ([on_message("a"), on_message("a")], 1), (["a"], 1),
                                 ("a", 1), ([on_completion(me)], 1),
                                 ([on_event("w", "k"), on_event("w", "k")], 1), ([on_message(3)], 1),  # type: ignore[arg-type]
                                 ([on_message("a")], -1)]:
            try:
                DBOS.select(sources, timeout_seconds=timeout)  # type: ignore[arg-type]
                raised.append("nothing")
            except (InvalidArgumentError, ArgumentTypeError) as exc:
                raised.append(type(exc).__name__)
        try:
            in_a_step()
        except NotInWorkflowError:
            raised.append("NotInWorkflowError")
        return raised

    wfid = f"bad-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(wfid):
        assert bad_input() == ["InvalidArgumentError", "InvalidArgumentError", "ArgumentTypeError",
                               "ArgumentTypeError", "InvalidArgumentError", "InvalidArgumentError",
                               "ArgumentTypeError", "InvalidArgumentError", "NotInWorkflowError"]
    names = [s["function_name"] for s in DBOS.list_workflow_steps(wfid)]
    assert not any(n in ("DBOS.select", "DBOS.sleep") for n in names), names


def test_cancelling_the_selecting_workflow_wakes_and_stops_it(dbos: type[DBOS]) -> None:
    wfid = start("async", [on_message("a")])
    wait_parked("msg", wfid, "a")
    DBOS.cancel_workflow(wfid)
    with pytest.raises(AwaitedWorkflowCancelledError):
        DBOS.get_result(wfid)


@pytest.fixture
def gateway(dbos: type[DBOS]) -> Iterator[TestClient]:
    with TestClient(create_gateway(DBOS, insecure=True), base_url="http://localhost") as c:
        yield c


def test_messages_from_a_client_and_the_gateway_wake_it(dbos: type[DBOS], db_url: str,
                                                        gateway: TestClient) -> None:
    """A DBOSClient has a runtime (and listener) of its own: its send reaches the select through the backend's
    push path (LISTEN/NOTIFY, the SQLite wake-up log), not through this process's hub."""
    with DBOSClient(db_url) as client:
        wfid = start("sync", [on_message("a"), on_message("b")])
        wait_parked("msg", wfid, "b")
        client.send(wfid, "from client", "b")
        assert DBOS.get_result(wfid)["got"] == [1, "message", "from client", None, None]
    wfid = start("async", [on_message("a"), on_message("b")])
    wait_parked("msg", wfid, "a")
    r = gateway.post(f"/workflows/{wfid}/messages", json={"message": {"via": "http"}, "topic": "a"})
    assert r.status_code == 202, r.text
    assert DBOS.get_result(wfid)["got"] == [0, "message", {"via": "http"}, None, None]


def test_async_selects_hold_no_thread(dbos: type[DBOS]) -> None:
    n = 200
    rt = DBOS._rt()

    async def main() -> list[Any]:
        before = threading.active_count()
        handles = [await DBOS.start_workflow_async(gated_async, [on_message("a"), on_message("b")], [], WAIT)
                   for _ in range(n)]
        for h in handles:
            await DBOS.send_async(h.workflow_id, "open", "gate")
        while sum(1 for w in rt.hub.snapshot() if any(k[2] == "b" for k in w.keys)) < n:
            await asyncio.sleep(0.02)
        assert threading.active_count() - before < 20  # not one per waiting workflow
        for i, h in enumerate(handles):
            await DBOS.send_async(h.workflow_id, i, "b")
        return [(await h.get_result())["got"][2] for h in handles]

    assert asyncio.run(main()) == list(range(n))


SOURCES_NOW: list[Source] = []


@DBOS.workflow(name="test_select.from_global")
def from_global() -> list[Any]:
    """Selects over whatever SOURCES_NOW holds when it runs (so a test can change the code's sources)."""
    got = DBOS.select(list(SOURCES_NOW), timeout_seconds=WAIT)
    assert got is not None
    return [got.index, got.kind, got.value]


def test_replay_with_other_sources_at_the_winning_index_raises(dbos: type[DBOS]) -> None:
    from tether.error import DBOSUnexpectedStepError

    pub = f"pub-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(pub):
        DBOS.start_workflow(publisher, "already").get_result()
    SOURCES_NOW[:] = [on_message("a"), on_event(pub, "k")]  # the event is already set: no wait at all
    wfid = f"glob-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(wfid):
        assert from_global() == [1, "event", "already"]
    SOURCES_NOW[:] = [on_message("a"), on_event(pub, "k"), on_message("b")]  # same winner at index 1: fine
    assert DBOS.fork_workflow(wfid, 3).get_result() == [1, "event", "already"]
    SOURCES_NOW[:] = [on_message("a"), on_message("b")]  # the code changed: index 1 is another source now
    with pytest.raises(DBOSUnexpectedStepError):
        DBOS.fork_workflow(wfid, 3).get_result()
    SOURCES_NOW.clear()
