"""list_workflows (every filter), list_queued_workflows and list_workflow_steps, from DBOS and from a client,
on both backends. Every test names its workflows uniquely, since tests share one PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSClient, Debouncer, Queue, SetWorkflowID, WorkflowStatus
from tether.api.filters import parse_time, parse_time_us, upper_bound_us, workflow_filter
from tether.engine.clock import Clock
from tether.storage.base import WorkflowRow


@dataclass
class Dataset:
    tag: str
    ids: dict[str, str]  # role -> workflow ID
    name_a: str
    name_b: str
    queue: str


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.fixture
def data(dbos: type[DBOS], db_url: str) -> Dataset:
    tag = uuid.uuid4().hex[:8]
    name_a, name_b = f"list-a-{tag}", f"list-b-{tag}"
    unserved = f"unserved-{tag}"  # no process serves it: what is enqueued there stays ENQUEUED

    @DBOS.workflow(name=name_a)
    def wf_a(x: int) -> int:
        return x * 2

    @DBOS.workflow(name=name_b)
    def wf_b(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return wf_a(x)  # a child workflow

    ids: dict[str, str] = {}
    for role, fn, arg in (("a1", wf_a, 1), ("a2", wf_a, 2), ("b1", wf_b, 3), ("err", wf_b, -1)):
        with SetWorkflowID(f"{tag}-{role}"):
            try:
                fn(arg)
            except ValueError:
                pass
        ids[role] = f"{tag}-{role}"
    ids["child"] = DBOS.list_workflows(parent_workflow_id=ids["b1"])[0].workflow_id
    ids["fork"] = DBOS.fork_workflow(ids["a1"], 1).workflow_id
    DBOS.retrieve_workflow(ids["fork"]).get_result(timeout_seconds=10)
    with DBOSClient(db_url) as client:
        h = client.enqueue({"queue_name": unserved, "workflow_name": name_a, "workflow_id": f"{tag}-q",
                            "authenticated_user": "carol", "app_version": "v-other"}, 9)
        ids["queued"] = h.workflow_id
    return Dataset(tag, ids, name_a, name_b, unserved)


def _ids(rows: list[WorkflowStatus]) -> list[str]:
    return [r.workflow_id for r in rows]


def test_filters(data: Dataset) -> None:
    t, ids = data.tag, data.ids
    everything = DBOS.list_workflows(workflow_id_prefix=t)
    # The child's ID derives from its parent's; the fork got a fresh UUID, so the prefix leaves it out.
    assert set(_ids(everything)) == {ids[k] for k in ("a1", "a2", "b1", "err", "child", "queued")}
    created = [r.created_at or 0 for r in everything]
    assert created == sorted(created)  # ascending by creation time by default

    assert _ids(DBOS.list_workflows(workflow_ids=[ids["a2"], ids["b1"], "nope"])) == [ids["a2"], ids["b1"]]
    assert _ids(DBOS.list_workflows(workflow_ids=[])) == []
    assert set(_ids(DBOS.list_workflows(name=data.name_b))) == {ids["b1"], ids["err"]}
    assert set(_ids(DBOS.list_workflows(name=[data.name_a], workflow_id_prefix=t))) == {
        ids["a1"], ids["a2"], ids["child"], ids["queued"]}
    assert _ids(DBOS.list_workflows(status="ERROR", workflow_id_prefix=t)) == [ids["err"]]
    assert set(_ids(DBOS.list_workflows(status=["ERROR", "ENQUEUED"], workflow_id_prefix=t))) == {
        ids["err"], ids["queued"]}
    assert _ids(DBOS.list_workflows(app_version="v-other", workflow_id_prefix=t)) == [ids["queued"]]
    assert ids["a1"] in _ids(DBOS.list_workflows(app_version=[DBOS.application_version], workflow_id_prefix=t))
    assert _ids(DBOS.list_workflows(forked_from=ids["a1"])) == [ids["fork"]]
    assert _ids(DBOS.list_workflows(parent_workflow_id=[ids["b1"]])) == [ids["child"]]
    assert _ids(DBOS.list_workflows(user="carol", workflow_id_prefix=t)) == [ids["queued"]]
    assert _ids(DBOS.list_workflows(queue_name=data.queue)) == [ids["queued"]]
    assert _ids(DBOS.list_workflows(executor_id="client", workflow_id_prefix=t)) == [ids["queued"]]
    assert ids["a1"] in _ids(DBOS.list_workflows(executor_id=[DBOS.executor_id], workflow_id_prefix=t))
    assert _ids(DBOS.list_workflows(queues_only=True, workflow_id_prefix=t)) == [ids["queued"]]
    assert _ids(DBOS.list_queued_workflows(workflow_id_prefix=t)) == [ids["queued"]]
    assert _ids(DBOS.list_queued_workflows(queue_name=data.queue, status="PENDING")) == []
    assert _ids(DBOS.list_workflows(has_parent=True, name=data.name_a)) == [ids["child"]]
    assert ids["child"] not in _ids(DBOS.list_workflows(has_parent=False, name=data.name_a))
    assert _ids(DBOS.list_workflows(was_forked_from=True, workflow_id_prefix=t)) == [ids["a1"]]
    assert ids["a1"] not in _ids(DBOS.list_workflows(was_forked_from=False, workflow_id_prefix=t))
    assert _ids(DBOS.list_workflows(workflow_id_prefix=[f"{t}-a", f"{t}-e"])) == [ids["a1"], ids["a2"], ids["err"]]
    assert _ids(DBOS.list_workflows(workflow_id_prefix="zz-no-such-prefix")) == []


def test_paging_sorting_and_time_window(data: Dataset) -> None:
    t, ids = data.tag, data.ids
    asc = DBOS.list_workflows(workflow_id_prefix=t)
    desc = DBOS.list_workflows(workflow_id_prefix=t, sort_desc=True)
    assert [r.created_at for r in desc] == sorted((r.created_at for r in asc), reverse=True)
    assert _ids(DBOS.list_workflows(workflow_id_prefix=t, limit=2)) == _ids(asc)[:2]
    assert _ids(DBOS.list_workflows(workflow_id_prefix=t, limit=2, offset=1)) == _ids(asc)[1:3]
    assert _ids(DBOS.list_workflows(workflow_id_prefix=t, offset=2)) == _ids(asc)[2:]
    a2 = next(r for r in asc if r.workflow_id == ids["a2"])
    assert a2.created_at is not None
    after = DBOS.list_workflows(workflow_id_prefix=t, start_time=_iso(a2.created_at))
    assert all((r.created_at or 0) >= a2.created_at for r in after) and ids["a2"] in _ids(after)
    before = DBOS.list_workflows(workflow_id_prefix=t, end_time=_iso(a2.created_at))
    assert all((r.created_at or 0) <= a2.created_at for r in before) and ids["a2"] in _ids(before)
    window = DBOS.list_workflows(workflow_id_prefix=t, start_time=_iso(a2.created_at),
                                 end_time=_iso(a2.created_at))
    assert ids["a2"] in _ids(window)
    assert DBOS.list_workflows(workflow_id_prefix=t, start_time="2999-01-01T00:00:00Z") == []
    with pytest.raises(ValueError):
        DBOS.list_workflows(start_time="yesterday")
    with pytest.raises(ValueError):
        DBOS.list_workflows(status="RUNNING")


def test_load_input_and_output(data: Dataset) -> None:
    ids = data.ids
    full = DBOS.list_workflows(workflow_ids=[ids["a2"], ids["err"]])
    assert full[0].input == {"args": (2,), "kwargs": {}} and full[0].output == 4
    assert isinstance(full[1].error, ValueError)
    bare = DBOS.list_workflows(workflow_ids=[ids["a2"], ids["err"]], load_input=False, load_output=False)
    assert [(r.input, r.output, r.error) for r in bare] == [(None, None, None)] * 2
    assert [r.status for r in bare] == ["SUCCESS", "ERROR"]
    no_out = DBOS.list_workflows(workflow_ids=[ids["a2"]], load_output=False)[0]
    assert (no_out.args, no_out.output) == ((2,), None)
    # The columns are not even read: the statement does not name them.
    store = DBOS._rt().store
    sql, _ = store._build_list(workflow_filter(load_input=False, load_output=False))  # type: ignore[attr-defined]
    selected = sql.split(" FROM ")[0]
    assert "inputs" not in selected and "output" not in selected and "error" not in selected
    assert "inputs" in store._build_list(workflow_filter())[0].split(" FROM ")[0]  # type: ignore[attr-defined]


def test_list_workflow_steps(data: Dataset) -> None:
    steps = DBOS.list_workflow_steps(data.ids["b1"])
    assert len(steps) == 2  # the child's start, then the read of its result (DBOS.getResult)
    assert steps[1]["function_name"] == "DBOS.getResult" and steps[1]["child_workflow_id"] == data.ids["child"]
    step = steps[0]
    assert step["function_id"] == 1
    assert step["function_name"] == data.name_a
    assert step["child_workflow_id"] == data.ids["child"]
    assert step["started_at_epoch_ms"] is not None and step["completed_at_epoch_ms"] is not None
    assert DBOS.list_workflow_steps(data.ids["a1"]) == []
    assert DBOS.list_workflow_steps("no-such-workflow") == []  # as in DBOS


def test_steps_outputs_errors_and_paging(dbos: type[DBOS]) -> None:
    tag = uuid.uuid4().hex[:8]

    @DBOS.step(name=f"ok-{tag}")
    def ok(i: int) -> int:
        return i * i

    @DBOS.step(name=f"bad-{tag}")
    def bad() -> None:
        raise KeyError("missing")

    @DBOS.workflow(name=f"steps-{tag}")
    def wf() -> None:
        for i in range(4):
            ok(i)
        try:
            bad()
        except KeyError:
            pass
        DBOS.set_event("done", True)

    with SetWorkflowID(f"steps-{tag}"):
        wf()
    steps = DBOS.list_workflow_steps(f"steps-{tag}")
    assert [s["function_id"] for s in steps] == [1, 2, 3, 4, 5, 6]
    assert [s["output"] for s in steps[:4]] == [0, 1, 4, 9]
    assert isinstance(steps[4]["error"], KeyError) and steps[4]["output"] is None
    assert steps[5]["function_name"] == "DBOS.setEvent"
    page = DBOS.list_workflow_steps(f"steps-{tag}", limit=2, offset=2)
    assert [s["function_id"] for s in page] == [3, 4]
    assert [s["function_id"] for s in DBOS.list_workflow_steps(f"steps-{tag}", offset=4)] == [5, 6]


def test_async_forms_and_client(data: Dataset, db_url: str) -> None:
    t, ids = data.tag, data.ids

    async def main() -> tuple[list[WorkflowStatus], list[WorkflowStatus], int]:
        rows = await DBOS.list_workflows_async(workflow_id_prefix=t, status="SUCCESS", limit=2)
        queued = await DBOS.list_queued_workflows_async(workflow_id_prefix=t)
        steps = await DBOS.list_workflow_steps_async(ids["b1"])
        return rows, queued, len(steps)

    rows, queued, nsteps = asyncio.run(main())
    assert len(rows) == 2 and {r.status for r in rows} == {"SUCCESS"}
    assert _ids(queued) == [ids["queued"]] and nsteps == 2
    with DBOSClient(db_url) as client:
        assert _ids(client.list_workflows(workflow_id_prefix=t)) == _ids(DBOS.list_workflows(workflow_id_prefix=t))
        assert _ids(client.list_queued_workflows(queue_name=data.queue)) == [ids["queued"]]
        assert client.list_workflow_steps(ids["b1"])[0]["child_workflow_id"] == ids["child"]

        async def client_async() -> int:
            got = await client.list_workflows_async(workflow_ids=[ids["a1"]])
            return len(got) + len(await client.list_workflow_steps_async(ids["b1"]))

        assert asyncio.run(client_async()) == 3


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set this process's local time zone (``TZ``) for the test, and put the old one back after it."""
    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()
    yield use
    monkeypatch.undo()
    time.tzset()


def test_a_naive_time_is_local_time_as_in_dbos(local_zone: Callable[[str], None]) -> None:
    # DBOS reads a bound without an offset in the local zone (its own tests pass datetime.now()), so does Tether.
    local_zone("Asia/Tokyo")  # UTC+9, no daylight saving
    assert parse_time_us("1970-01-01T09:00:00.000001") == 1
    assert parse_time("1970-01-01T09:00:01") == 1000
    assert upper_bound_us("1970-01-01T09:00:00.250") == 250_999
    assert parse_time_us("1970-01-01T00:00:00.000001Z") == 1  # an explicit offset is not touched
    local_zone("America/New_York")  # UTC-5 in winter, UTC-4 in summer
    assert parse_time("2026-01-15T07:00:00") == parse_time("2026-01-15T12:00:00Z")
    assert parse_time("2026-07-15T08:00:00") == parse_time("2026-07-15T12:00:00Z")
    aware = datetime.now(timezone.utc)
    assert parse_time_us(aware.astimezone().replace(tzinfo=None).isoformat()) == parse_time_us(aware.isoformat())


def test_parse_time(local_zone: Callable[[str], None]) -> None:
    local_zone("UTC")
    assert parse_time(None) is None
    assert parse_time("1970-01-01T00:00:01Z") == 1000
    assert parse_time("1970-01-01T01:00:00+01:00") == 0
    assert parse_time("1970-01-01T00:00:00.250") == 250
    with pytest.raises(ValueError):
        parse_time("not a time")


def test_queue_listing_shows_running_and_waiting(dbos: type[DBOS]) -> None:
    import threading

    q = Queue(f"show-{uuid.uuid4().hex[:8]}", concurrency=1)
    gate = threading.Event()

    @DBOS.workflow(name=f"show-wf-{q.name}")
    def work(i: int) -> int:
        gate.wait(10)
        return i

    handles = [q.enqueue(work, i) for i in range(3)]
    try:
        rows = DBOS.list_queued_workflows(queue_name=q.name)
        assert len(rows) == 3
        assert sorted(r.status for r in rows) in (["ENQUEUED"] * 3, ["ENQUEUED", "ENQUEUED", "PENDING"])
    finally:
        gate.set()
    assert [h.get_result(timeout_seconds=10) for h in handles] == [0, 1, 2]
    assert DBOS.list_queued_workflows(queue_name=q.name) == []


def test_queue_listing_shows_delayed_and_takes_a_status_filter_as_dbos(dbos: type[DBOS], db_url: str) -> None:
    """As in DBOS 3.4: ``list_queued_workflows`` lists DELAYED workflows with the ENQUEUED and PENDING ones,
    and a ``status`` filter replaces those defaults (so a queue's ended workflows can be listed too)."""
    tag = uuid.uuid4().hex[:8]
    q = Queue(f"listq-{tag}")

    @DBOS.workflow(name=f"listq-wf-{tag}")
    def work(i: int) -> int:
        return i

    with SetWorkflowID(f"{tag}-done"):
        assert q.enqueue(work, 1).get_result(timeout_seconds=10) == 1
    with DBOSClient(db_url) as client:
        client.enqueue({"queue_name": q.name, "workflow_name": f"listq-wf-{tag}", "workflow_id": f"{tag}-later",
                        "delay_seconds": 3600}, 2)
        for lister in (DBOS, client):
            assert [(w.workflow_id, w.status) for w in lister.list_queued_workflows(queue_name=q.name)] == [
                (f"{tag}-later", "DELAYED")]
            assert _ids(lister.list_queued_workflows(queue_name=q.name, status="SUCCESS")) == [f"{tag}-done"]
            assert _ids(lister.list_queued_workflows(queue_name=q.name, status=["DELAYED", "SUCCESS"])) == [
                f"{tag}-done", f"{tag}-later"]
            assert _ids(lister.list_workflows(queues_only=True, status="SUCCESS", workflow_id_prefix=tag)) == [
                f"{tag}-done"]
        with SetWorkflowID(f"{tag}-plain"):
            work(3)  # not queued: never listed
        assert f"{tag}-plain" not in _ids(DBOS.list_queued_workflows(status="SUCCESS", workflow_id_prefix=tag))


def test_management_needs_a_launched_dbos() -> None:
    from tether import NotLaunchedError

    DBOS.destroy()
    with pytest.raises(NotLaunchedError):
        DBOS.list_workflows()
    with pytest.raises(NotLaunchedError):
        DBOS.cancel_workflow("x")
    with pytest.raises(NotLaunchedError):
        asyncio.run(DBOS.list_workflow_steps_async("x"))


class StoppedClock(Clock):
    """A clock the test sets to the microsecond; it starts at the real time (other processes' heartbeats are
    judged by it) and only moves within one millisecond."""

    def __init__(self) -> None:
        self.us = time.time_ns() // 1000

    def now_us(self) -> int:
        return self.us


@pytest.fixture
def stopped(db_url: str) -> Iterator[StoppedClock]:
    clock = StoppedClock()
    DBOS(config=make_config(db_url), clock=clock)
    DBOS.launch()
    try:
        yield clock
    finally:
        DBOS.destroy()


def _iso_us(us: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)).isoformat()


def test_creation_bounds_are_exact_within_a_millisecond(stopped: StoppedClock, db_url: str) -> None:
    """A workflow created in the same millisecond as a bound given to the microsecond is inside an end bound
    after it and outside one before it (and the reverse for a start bound): no tie at the millisecond."""
    tag = uuid.uuid4().hex[:8]

    @DBOS.workflow(name=f"tie-{tag}")
    def quick() -> None:
        return None

    ms = stopped.us // 1000
    stopped.us = created = ms * 1000 + 500  # the middle of one millisecond
    with SetWorkflowID(f"{tag}-wf"):
        quick()
    [status] = DBOS.list_workflows(workflow_id_prefix=tag)
    assert status.created_at == ms

    def listed(**bounds: str) -> list[str]:
        return _ids(DBOS.list_workflows(workflow_id_prefix=tag, **bounds))  # type: ignore[arg-type]

    assert listed(end_time=_iso_us(created + 1)) == [f"{tag}-wf"]
    assert listed(end_time=_iso_us(created)) == [f"{tag}-wf"]  # bounds are inclusive
    assert listed(end_time=_iso_us(created - 1)) == []
    assert listed(start_time=_iso_us(created - 1)) == [f"{tag}-wf"]
    assert listed(start_time=_iso_us(created)) == [f"{tag}-wf"]
    assert listed(start_time=_iso_us(created + 1)) == []
    assert listed(start_time=_iso_us(created), end_time=_iso_us(created)) == [f"{tag}-wf"]
    # An offset and a "Z" are read to the microsecond as well.
    assert listed(end_time=_iso_us(created - 1).replace("+00:00", "Z")) == []
    assert listed(start_time=_iso_us(created + 1 + 3_600_000_000).replace("+00:00", "+01:00")) == []
    with DBOSClient(db_url) as client:
        assert _ids(client.list_workflows(workflow_id_prefix=tag, end_time=_iso_us(created - 1))) == []
        assert _ids(client.list_workflows(workflow_id_prefix=tag, end_time=_iso_us(created + 1))) == [f"{tag}-wf"]


def test_every_way_of_creating_a_workflow_records_its_microsecond(stopped: StoppedClock) -> None:
    """Started, enqueued, forked and debounced workflows, each created one microsecond after the last in one
    millisecond: an end bound on each creation microsecond lists exactly those created up to it."""
    tag = uuid.uuid4().hex[:8]
    queue = Queue(f"tie-q-{tag}")

    @DBOS.workflow(name=f"tie-all-{tag}")
    def quick(x: int) -> int:
        return x

    base = (stopped.us // 1000) * 1000 + 100
    order: list[str] = []

    def at(k: int, make: Any) -> None:
        stopped.us = base + k
        order.append(make())

    def started() -> str:
        with SetWorkflowID(f"{tag}-started"):
            quick(1)
        return f"{tag}-started"

    def enqueued() -> str:
        with SetWorkflowID(f"{tag}-enqueued"):
            return queue.enqueue(quick, 2).workflow_id

    def forked() -> str:
        with SetWorkflowID(f"{tag}-forked"):
            return DBOS.fork_workflow(f"{tag}-started", 1).workflow_id

    def debounced() -> str:
        with SetWorkflowID(f"{tag}-debounced"):
            return Debouncer.create(quick).debounce(f"k-{tag}", 3600, 4).workflow_id

    for k, make in enumerate((started, enqueued, forked, debounced)):
        at(k, make)
    for k in range(len(order)):
        got = DBOS.list_workflows(workflow_id_prefix=tag, end_time=_iso_us(base + k))
        assert sorted(_ids(got)) == sorted(order[:k + 1]), k
        assert all(w.created_at == base // 1000 for w in got)
        later = DBOS.list_workflows(workflow_id_prefix=tag, start_time=_iso_us(base + k))
        assert sorted(_ids(later)) == sorted(order[k:]), k


def test_a_whole_millisecond_end_bound_covers_its_millisecond(stopped: StoppedClock) -> None:
    """``created_at`` is reported to the millisecond: an end bound made from it lists the workflow."""
    tag = uuid.uuid4().hex[:8]

    @DBOS.workflow(name=f"tie-ms-{tag}")
    def quick() -> None:
        return None

    stopped.us = (stopped.us // 1000) * 1000 + 999
    with SetWorkflowID(f"{tag}-wf"):
        quick()
    [status] = DBOS.list_workflows(workflow_id_prefix=tag)
    assert status.created_at is not None
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, end_time=_iso(status.created_at))) == [f"{tag}-wf"]
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, start_time=_iso(status.created_at))) == [f"{tag}-wf"]
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, end_time=_iso(status.created_at - 1))) == []
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, start_time=_iso(status.created_at + 1))) == []


def test_end_and_dequeue_bounds_are_exact_within_a_millisecond(stopped: StoppedClock) -> None:
    """``completed_*`` and ``dequeued_*`` bounds settle a workflow that ended, or was dequeued, in the bound's
    own millisecond by its microsecond: a success, an error, a cancellation and a dequeue."""
    tag = uuid.uuid4().hex[:8]
    queue = Queue(f"tie-dq-{tag}")
    base = (stopped.us // 1000) * 1000 + 100

    @DBOS.workflow(name=f"tie-end-{tag}")
    def ends_at(us: int, fail: bool) -> None:
        stopped.us = us  # the workflow ends at this microsecond
        if fail:
            raise ValueError("failed on purpose")

    @DBOS.workflow(name=f"tie-wait-{tag}")
    def waits() -> None:
        DBOS.recv("never", timeout_seconds=60)

    stopped.us = base
    with SetWorkflowID(f"{tag}-ok"):
        ends_at(base + 10, False)
    with SetWorkflowID(f"{tag}-err"), pytest.raises(ValueError):
        ends_at(base + 20, True)
    with SetWorkflowID(f"{tag}-cancelled"):
        DBOS.start_workflow(waits)
    stopped.us = base + 30
    DBOS.cancel_workflow(f"{tag}-cancelled")
    ended = {f"{tag}-ok": base + 10, f"{tag}-err": base + 20, f"{tag}-cancelled": base + 30}
    for wfid, us in ended.items():
        assert wfid in _ids(DBOS.list_workflows(workflow_id_prefix=tag, completed_before=_iso_us(us)))
        assert wfid not in _ids(DBOS.list_workflows(workflow_id_prefix=tag, completed_before=_iso_us(us - 1)))
        assert wfid in _ids(DBOS.list_workflows(workflow_id_prefix=tag, completed_after=_iso_us(us)))
        assert wfid not in _ids(DBOS.list_workflows(workflow_id_prefix=tag, completed_after=_iso_us(us + 1)))

    stopped.us = base + 40  # enqueued and dequeued at this microsecond (the clock stands still)
    with SetWorkflowID(f"{tag}-queued"):
        handle = queue.enqueue(ends_at, base + 50, False)
    handle.get_result(timeout_seconds=10)
    queued = [f"{tag}-queued"]
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, dequeued_before=_iso_us(base + 40))) == queued
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, dequeued_before=_iso_us(base + 39))) == []
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, dequeued_after=_iso_us(base + 40))) == queued
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, dequeued_after=_iso_us(base + 41))) == []
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, completed_after=_iso_us(base + 41))) == queued


def test_rows_known_to_the_millisecond_only_count_as_inside_it(dbos: type[DBOS]) -> None:
    """A row without a creation microsecond (written before migration 015, or imported from DBOS) is inside any
    bound that falls in its millisecond."""
    tag = uuid.uuid4().hex[:8]
    ms = time.time_ns() // 1_000_000
    rt = DBOS._rt()
    rt.store.insert_workflow(WorkflowRow(workflow_uuid=f"{tag}-old", status="SUCCESS", name=f"old-{tag}",
                                         created_at=ms, updated_at=ms, completed_at=ms))
    for bound in ("start_time", "end_time", "completed_after", "completed_before"):
        for us in (ms * 1000 + 1, ms * 1000 + 500, ms * 1000 + 999):
            assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, **{bound: _iso_us(us)})) == [f"{tag}-old"]
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, end_time=_iso_us(ms * 1000 - 1))) == []
    assert _ids(DBOS.list_workflows(workflow_id_prefix=tag, start_time=_iso_us(ms * 1000 + 1000))) == []


def test_time_bounds_parse_to_the_microsecond(local_zone: Callable[[str], None]) -> None:
    local_zone("UTC")
    assert parse_time_us(None) is None
    assert parse_time_us("1970-01-01T00:00:01Z") == 1_000_000
    assert parse_time_us("1970-01-01T01:00:00.000001+01:00") == 1
    assert parse_time_us("2026-11-30T12:00:00.123457") == 1_796_040_000_123_457
    assert parse_time_us("1969-12-31T23:59:59.999999Z") == -1
    assert parse_time("1969-12-31T23:59:59.999999Z") == -1  # milliseconds round down
    assert upper_bound_us("1970-01-01T00:00:01.250Z") == 1_250_999  # a whole millisecond covers it
    assert upper_bound_us("1970-01-01T00:00:01.250400Z") == 1_250_400
    with pytest.raises(ValueError):
        parse_time_us("not a time")


@DBOS.workflow()
def waits_for_a_message() -> Any:
    return DBOS.recv("never", timeout_seconds=60)


def test_listing_and_cancelling_by_70000_ids_at_once(dbos: type[DBOS]) -> None:
    """More IDs than a statement takes parameters (PostgreSQL 65,535; SQLite 32,766 unless built otherwise):
    a long list goes as one JSON array parameter. Lists of up to 100 are written out as before; both give the
    same rows."""
    tag = uuid.uuid4().hex[:8]
    handles = []
    for i in range(3):
        with SetWorkflowID(f"big-{tag}-{i}"):
            handles.append(DBOS.start_workflow(waits_for_a_message))
    real = [h.workflow_id for h in handles]
    many = [f"absent-{tag}-{i}" for i in range(70_000)] + real
    assert sorted(_ids(DBOS.list_workflows(workflow_ids=many))) == sorted(real)
    assert sorted(_ids(DBOS.list_workflows(workflow_ids=many[-100:]))) == sorted(real)  # written out
    assert sorted(_ids(DBOS.list_workflows(workflow_ids=many[-101:]))) == sorted(real)  # as JSON
    assert _ids(DBOS.list_workflows(workflow_ids=many, status=["SUCCESS"] * 150)) == []
    DBOS.cancel_workflows(many)
    for handle in handles:
        assert handle.get_status().status == "CANCELLED"
