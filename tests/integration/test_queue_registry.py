"""Queues registered in the database, on both backends: register, retrieve, list, delete, settings changed at
run time (and seen by every process sharing the database), listen_queues, enqueue by queue name or by
options, partitions, and the duplication policy."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    DBOSClient,
    QueueConfigurationError,
    QueueDeduplicatedError,
    SetEnqueueOptions,
    SetWorkflowID,
)

WAIT = 15


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = cur = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def test_register_retrieve_list_delete(dbos: type[DBOS]) -> None:
    name = f"reg-{_uid()}"
    q = DBOS.register_queue(name, global_concurrency=3, worker_concurrency=2, limiter={"limit": 5, "period": 2.0},
                            polling_interval_sec=0.5)
    assert q.database_backed_queue and q.name == name
    got = DBOS.retrieve_queue(name)
    assert got is not None
    assert (got.global_concurrency, got.concurrency, got.worker_concurrency) == (3, 3, 2)
    assert got.limiter == {"limit": 5, "period": 2.0} and got.polling_interval_sec == 0.5
    assert got.partition_concurrency is None and got.application_name == "tether-test"
    assert name in [x.name for x in DBOS.list_queues()]
    assert name not in [x.name for x in DBOS.list_queues(application_name="another-app")]
    DBOS.delete_queue(name)
    assert DBOS.retrieve_queue(name) is None
    assert name not in [x.name for x in DBOS.list_queues()]
    with pytest.raises(QueueConfigurationError, match="not found"):
        q.set_global_concurrency(1)


def test_registration_conflicts_and_validation(dbos: type[DBOS], client: DBOSClient) -> None:
    name = f"conf-{_uid()}"
    DBOS.register_queue(name, global_concurrency=2)
    assert DBOS.register_queue(name, global_concurrency=5).global_concurrency == 5  # same version: replaces
    assert DBOS.register_queue(name, global_concurrency=7, on_conflict="never_update").global_concurrency == 5
    assert DBOS.register_queue(name, global_concurrency=8, on_conflict="always_update").global_concurrency == 8
    with pytest.raises(QueueConfigurationError, match="registered by"):
        client.register_queue(name, application_name="someone-else")
    with pytest.raises(QueueConfigurationError, match="reserved"):
        DBOS.register_queue("_tether_internal")
    with pytest.raises(ValueError):
        DBOS.register_queue(name, global_concurrency=1, worker_concurrency=2)
    assert DBOS.retrieve_queue(name).global_concurrency == 8  # type: ignore[union-attr]  # unchanged
    DBOS.delete_queue(name)


def test_dbos_internal_queue_names_are_reserved_as_in_dbos(dbos: type[DBOS], client: DBOSClient) -> None:
    """DBOS 3.4 refuses to register a queue whose name starts with ``_dbos_`` (its internal queues, the Kafka
    consumers' among them) with a ``ValueError``; Tether registered it."""
    for register in (DBOS.register_queue, client.register_queue):
        with pytest.raises(ValueError, match="reserved") as info:
            register(f"_dbos_mine_{_uid()}")
        assert isinstance(info.value, QueueConfigurationError)
    assert not [q for q in DBOS.list_queues() if q.name.startswith("_dbos_mine_")]
    assert DBOS.retrieve_queue("_dbos_kafka_queue") is None


def test_an_older_version_does_not_undo_a_newer_ones_settings(db_url: str) -> None:
    name = f"ver-{_uid()}"
    older, newer = f"v1-{name}", f"v2-{name}"  # versions no other test registered: each launch's is new
    for version, concurrency in ((older, 1), (newer, 2), (older, 3)):
        DBOS(config=make_config(db_url, application_version=version))
        DBOS.launch()
        try:
            DBOS.register_queue(name, global_concurrency=concurrency)
            stored = DBOS.retrieve_queue(name)
            assert stored is not None
            assert stored.global_concurrency == (2 if version == older and concurrency == 3 else concurrency)
        finally:
            DBOS.destroy()
    with DBOSClient(db_url) as c:
        c.delete_queue(name)


def test_settings_changed_at_run_time_are_followed(dbos: type[DBOS], client: DBOSClient) -> None:
    """A queue paused (global_concurrency=0) by a client starts nothing; raised back by the client, the
    process serving it starts the workflows, at most two at once."""
    name = f"live-{_uid()}"
    DBOS.register_queue(name, global_concurrency=0, polling_interval_sec=0.1)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    @DBOS.workflow(name=f"live-wf-{name}")
    def work(i: int) -> int:
        start = time.monotonic()
        time.sleep(0.05)
        with lock:
            spans.append((start, time.monotonic()))
        return i

    handles = [DBOS.enqueue_workflow(name, work, i) for i in range(6)]
    time.sleep(0.3)
    assert {h.get_status().status for h in handles} == {"ENQUEUED"}
    remote = client.retrieve_queue(name)
    assert remote is not None and remote.global_concurrency == 0
    remote.set_global_concurrency(2)
    local = DBOS.retrieve_queue(name)
    assert local is not None and local.global_concurrency == 2  # seen by every reader of the database
    assert [h.get_result(timeout_seconds=WAIT) for h in handles] == list(range(6))
    assert _max_overlap(spans) <= 2
    with pytest.raises(QueueConfigurationError):
        remote.set_worker_concurrency(3)  # above the global limit
    with pytest.raises(QueueConfigurationError, match=r"DBOSClient\.enqueue"):
        remote.enqueue(work, 1)
    remote.set_limiter({"limit": 4, "period": 1.0})
    remote.set_partition_limiter({"limit": 1, "period": 1.0})
    remote.set_polling_interval_sec(0.2)
    assert (local.limiter, local.partition_limiter, local.polling_interval_sec) == (
        {"limit": 4, "period": 1.0}, {"limit": 1, "period": 1.0}, 0.2)
    DBOS.delete_queue(name)


def test_enqueue_before_the_queue_exists_and_with_options(dbos: type[DBOS]) -> None:
    name = f"later-{_uid()}"

    @DBOS.workflow(name=f"echo-{name}")
    def echo(x: int) -> int:
        return x

    @DBOS.workflow(name=f"parent-{name}")
    def parent(x: int) -> int:
        h = DBOS.enqueue_workflow_with_options({"queue_name": name, "workflow_name": f"echo-{name}"}, x)
        return int(h.get_result()) + 1

    h = DBOS.enqueue_workflow(name, echo, 7)
    time.sleep(0.3)
    assert h.get_status().status == "ENQUEUED"  # nobody serves the queue yet
    DBOS.register_queue(name, polling_interval_sec=0.1)
    assert h.get_result(timeout_seconds=WAIT) == 7
    wfid = f"p-{name}"
    with SetWorkflowID(wfid):
        assert parent(4) == 5
    steps = DBOS.list_workflow_steps(wfid)
    assert steps[0]["function_name"] == f"echo-{name}" and steps[0]["child_workflow_id"] == f"{wfid}-1"

    async def via_async() -> int:
        ha = await DBOS.enqueue_workflow_async(name, echo, 9)
        hb = await DBOS.enqueue_workflow_with_options_async({"queue_name": name, "workflow_name": f"echo-{name}"}, 10)
        return int(await ha.get_result(timeout_seconds=WAIT)) + int(await hb.get_result(timeout_seconds=WAIT))

    assert asyncio.run(via_async()) == 19
    DBOS.delete_queue(name)


def test_a_step_can_be_enqueued(dbos: type[DBOS]) -> None:
    name = f"stepq-{_uid()}"
    DBOS.register_queue(name)
    calls: list[str] = []

    @DBOS.step(name=f"step-{name}")
    def step(x: str) -> str:
        calls.append(x)
        return x + "!"

    wfid = f"s-{name}"
    for _ in range(2):
        with SetWorkflowID(wfid):
            assert DBOS.enqueue_workflow(name, step, "hi").get_result(timeout_seconds=WAIT) == "hi!"
    assert calls == ["hi"]
    DBOS.delete_queue(name)


def test_listen_queues_narrows_what_a_process_serves(db_url: str) -> None:
    one, two = f"one-{_uid()}", f"two-{_uid()}"
    DBOS(config=make_config(db_url))
    DBOS.listen_queues([one])
    with pytest.raises(QueueConfigurationError):
        DBOS.listen_queues([two])

    @DBOS.workflow(name=f"listened-{one}")
    def work() -> str:
        return "ran"

    DBOS.launch()
    try:
        with pytest.raises(QueueConfigurationError):
            DBOS.listen_queues([two])
        DBOS.register_queue(one, polling_interval_sec=0.1)
        DBOS.register_queue(two, polling_interval_sec=0.1)
        h1, h2 = DBOS.enqueue_workflow(one, work), DBOS.enqueue_workflow(two, work)
        assert h1.get_result(timeout_seconds=WAIT) == "ran"
        time.sleep(0.3)
        assert h2.get_status().status == "ENQUEUED"
    finally:
        DBOS.destroy()
    DBOS(config=make_config(db_url))
    DBOS.listen_queues([two])
    DBOS.launch()
    try:
        assert DBOS.retrieve_workflow(h2.workflow_id).get_result(timeout_seconds=WAIT) == "ran"
        DBOS.delete_queue(one)
        DBOS.delete_queue(two)
    finally:
        DBOS.destroy()


def test_partition_limits_apply_to_each_partition(dbos: type[DBOS]) -> None:
    """partition_concurrency=1 on three partitions: each partition runs one at a time, yet partitions run
    side by side (global_concurrency=2 caps the whole queue)."""
    name = f"part-{_uid()}"
    DBOS.register_queue(name, partition_concurrency=1, global_concurrency=2, polling_interval_sec=0.1)
    spans: dict[str, list[tuple[float, float]]] = {}
    lock = threading.Lock()

    @DBOS.workflow(name=f"part-wf-{name}")
    def work(part: str) -> str:
        start = time.monotonic()
        time.sleep(0.03)
        with lock:
            spans.setdefault(part, []).append((start, time.monotonic()))
        return part

    handles = []
    for part in ("a", "b", "c"):
        with SetEnqueueOptions(queue_partition_key=part):
            handles += [DBOS.enqueue_workflow(name, work, part) for _ in range(5)]
    assert sorted(h.get_result(timeout_seconds=WAIT) for h in handles) == sorted(["a", "b", "c"] * 5)
    assert all(_max_overlap(s) == 1 for s in spans.values())
    everything = [x for s in spans.values() for x in s]
    assert _max_overlap(everything) <= 2
    with SetEnqueueOptions(queue_partition_key="a", deduplication_id="d"), \
            pytest.raises(QueueConfigurationError, match="partitioned"):
        DBOS.enqueue_workflow(name, work, "a")
    DBOS.delete_queue(name)


def test_busy_partitions_do_not_starve_small_ones(dbos: type[DBOS]) -> None:
    """Two partitions with a backlog of 30 each, four with one workflow, two slots for the whole queue:
    partitions are served in turn, so every small partition runs before the busy ones have done a quarter of
    their backlog. Counted in completions, not time (Tether starts the next workflow as soon as a slot frees,
    so a clock-based check says nothing)."""
    name = f"fair-{_uid()}"
    order: list[str] = []
    lock = threading.Lock()

    @DBOS.workflow(name=f"fair-wf-{name}")
    def quick(part: str) -> None:
        with lock:
            order.append(part)

    busy, small = ["aaa-busy-1", "aaa-busy-2"], [f"zzz-small-{i}" for i in range(4)]
    handles = []
    for part in busy:  # enqueued first and sorting first: a fixed order would serve them first
        with SetEnqueueOptions(queue_partition_key=part):
            handles += [DBOS.enqueue_workflow(name, quick, part) for _ in range(30)]
    for part in small:
        with SetEnqueueOptions(queue_partition_key=part):
            handles.append(DBOS.enqueue_workflow(name, quick, part))
    DBOS.register_queue(name, partition_concurrency=1, worker_concurrency=2, polling_interval_sec=0.1)
    for h in handles:
        h.get_result(timeout_seconds=WAIT)
    last_small = max(order.index(p) for p in small)
    busy_before = sum(1 for p in order[:last_small] if p in busy)
    assert busy_before < 15, order[: last_small + 1]
    DBOS.delete_queue(name)


def test_partition_rate_limit(dbos: type[DBOS]) -> None:
    """At most two starts per partition per second: of six workflows in one partition, two start at once and
    the rest wait for the period, while another partition is not held back by the first."""
    name = f"prate-{_uid()}"
    DBOS.register_queue(name, partition_limiter={"limit": 2, "period": 1.0}, polling_interval_sec=0.1)

    @DBOS.workflow(name=f"prate-wf-{name}")
    def work(part: str) -> str:
        return part

    with SetEnqueueOptions(queue_partition_key="x"):
        slow = [DBOS.enqueue_workflow(name, work, "x") for _ in range(4)]
    with SetEnqueueOptions(queue_partition_key="y"):
        fast = [DBOS.enqueue_workflow(name, work, "y") for _ in range(2)]
    assert [h.get_result(timeout_seconds=WAIT) for h in fast] == ["y", "y"]
    assert [h.get_result(timeout_seconds=WAIT) for h in slow] == ["x"] * 4
    # Measured where the limiter decides, at admission (the start the queue records, from the runtime's clock),
    # not when each body got a CPU: the rule then holds however loaded the machine is.
    store = DBOS._rt().store
    rows = [store.get_workflow(h.workflow_id, load_input=False, load_output=False) for h in slow]
    xs = sorted(r.started_at_epoch_ms for r in rows if r is not None and r.started_at_epoch_ms is not None)
    assert len(xs) == 4
    assert all(xs[i + 2] - xs[i] > 1000 for i in range(len(xs) - 2))  # never three within one period
    DBOS.delete_queue(name)


def test_return_existing_attaches_to_the_holder(dbos: type[DBOS], client: DBOSClient) -> None:
    name = f"dedup-{_uid()}"
    DBOS.register_queue(name, polling_interval_sec=0.1)
    gate = threading.Event()

    @DBOS.workflow(name=f"gated-{name}")
    def gated(x: str) -> str:
        gate.wait(WAIT)
        return x

    @DBOS.workflow(name=f"attach-{name}")
    def attach() -> str:
        with SetEnqueueOptions(deduplication_id="d", duplication_policy="return-existing"):
            return DBOS.enqueue_workflow(name, gated, "parent's").workflow_id

    with SetEnqueueOptions(deduplication_id="d", duplication_policy="return-existing"):
        first = DBOS.enqueue_workflow(name, gated, "first")
        again = DBOS.enqueue_workflow(name, gated, "second")
    assert again.workflow_id == first.workflow_id
    with SetEnqueueOptions(deduplication_id="d"), pytest.raises(QueueDeduplicatedError):
        DBOS.enqueue_workflow(name, gated, "rejected")  # the default policy
    options = {"queue_name": name, "workflow_name": f"gated-{name}", "deduplication_id": "d",
               "duplication_policy": "return-existing"}
    assert client.enqueue(options, "third").workflow_id == first.workflow_id  # type: ignore[arg-type]
    parent_id = f"parent-{name}"
    with SetWorkflowID(parent_id):
        assert attach() == first.workflow_id
    steps = DBOS.list_workflow_steps(parent_id)
    assert [(s["function_id"], s["child_workflow_id"]) for s in steps] == [(1, first.workflow_id)]
    gate.set()
    assert first.get_result(timeout_seconds=WAIT) == "first"
    with SetEnqueueOptions(deduplication_id="d", duplication_policy="return-existing"):
        fresh = DBOS.enqueue_workflow(name, gated, "fresh")  # the ID was released when the holder ended
    assert fresh.workflow_id != first.workflow_id and fresh.get_result(timeout_seconds=WAIT) == "fresh"
    with SetEnqueueOptions(duplication_policy="return-existing"), \
            pytest.raises(QueueConfigurationError, match="requires a deduplication_id"):
        DBOS.enqueue_workflow(name, gated, "x")
    wfid = f"plain-{name}"
    with SetEnqueueOptions(duplication_policy="return-existing"), SetWorkflowID(wfid), \
            pytest.raises(QueueConfigurationError, match="requires a queue"):
        DBOS.start_workflow(gated, "x")
    assert DBOS.get_workflow_status(wfid) is None
    DBOS.delete_queue(name)


def test_a_debouncer_uses_a_registered_queue_and_refuses_return_existing(dbos: type[DBOS],
                                                                        client: DBOSClient) -> None:
    from tether import Debouncer, DebouncerClient

    name = f"deb-{_uid()}"
    DBOS.register_queue(name, polling_interval_sec=0.1)

    @DBOS.workflow(name=f"deb-wf-{name}")
    def work(x: str) -> str:
        return x

    debouncer = Debouncer.create(work, queue=name)
    with SetEnqueueOptions(duplication_policy="return-existing"), \
            pytest.raises(QueueConfigurationError, match="Cannot debounce"):
        debouncer.debounce("k", 0.05, "x")
    assert debouncer.debounce("k", 0.05, "last").get_result(timeout_seconds=WAIT) == "last"
    remote = DebouncerClient(client, {"queue_name": name, "workflow_name": f"deb-wf-{name}",
                                      "duplication_policy": "return-existing"})
    with pytest.raises(QueueConfigurationError, match="Cannot debounce"):
        remote.debounce("k", 0.05, "y")
    DBOS.delete_queue(name)


def test_workflow_id_reuse_policy_reject(dbos: type[DBOS], client: DBOSClient) -> None:
    from tether.error import DBOSWorkflowIDInUseError

    name = f"reuse-{_uid()}"
    DBOS.register_queue(name, polling_interval_sec=0.1)

    @DBOS.workflow(name=f"reuse-wf-{name}")
    def work(x: int) -> int:
        return x

    wfid = f"id-{name}"
    with SetWorkflowID(wfid, workflow_id_reuse_policy="reject"):
        assert DBOS.start_workflow(work, 1).get_result(timeout_seconds=WAIT) == 1  # new: fine
    with SetWorkflowID(wfid):
        assert DBOS.start_workflow(work, 2).get_result(timeout_seconds=WAIT) == 1  # the default returns it
    with SetWorkflowID(wfid, workflow_id_reuse_policy="reject"), pytest.raises(DBOSWorkflowIDInUseError) as info:
        DBOS.enqueue_workflow(name, work, 3)
    assert info.value.workflow_status == "SUCCESS"
    options = {"queue_name": name, "workflow_name": f"reuse-wf-{name}", "workflow_id": wfid,
               "workflow_id_reuse_policy": "reject"}
    with pytest.raises(DBOSWorkflowIDInUseError):
        client.enqueue(options, 4)  # type: ignore[arg-type]
    with pytest.raises(QueueConfigurationError, match="Invalid workflow_id_reuse_policy"):
        SetWorkflowID(wfid, workflow_id_reuse_policy="sometimes")  # type: ignore[arg-type]
    DBOS.delete_queue(name)


def test_dequeued_async_workflows_run_on_the_loop_dbos_was_launched_from(db_url: str) -> None:
    name = f"loop-{_uid()}"

    @DBOS.workflow(name=f"loop-wf-{name}")
    async def where() -> int:
        await asyncio.sleep(0.01)
        return id(asyncio.get_running_loop())

    async def main() -> None:
        DBOS(config=make_config(db_url))
        DBOS.launch()
        try:
            await DBOS.register_queue_async(name, polling_interval_sec=0.1)
            handle = await DBOS.enqueue_workflow_async(name, where)
            assert await handle.get_result(timeout_seconds=WAIT) == id(asyncio.get_running_loop())
            await DBOS.delete_queue_async(name)
        finally:
            DBOS.destroy()

    asyncio.run(main())


def test_a_schedule_can_use_a_registered_queue(dbos: type[DBOS]) -> None:
    name = f"sched-q-{_uid()}"
    DBOS.register_queue(name)

    @DBOS.workflow(name=f"sched-wf-{name}")
    def tick(at: object, context: object) -> None:
        return None

    DBOS.create_schedule(schedule_name=f"s-{name}", workflow_fn=tick, schedule="0 0 1 1 *", queue_name=name)
    DBOS.delete_schedule(f"s-{name}")
    DBOS.delete_queue(name)


def test_a_parent_that_ended_in_time_leaves_its_children_alone(dbos: type[DBOS]) -> None:
    """An enqueued parent with a timeout enqueues a child that opts out of it (SetWorkflowTimeout(None)) and
    ends at once; when the parent's deadline passes, the child (still waiting) is not cancelled."""
    from tether import SetWorkflowTimeout

    name = f"tmo-{_uid()}"
    DBOS.register_queue(name, polling_interval_sec=0.1)

    @DBOS.workflow(name=f"tmo-child-{name}")
    def child() -> str:
        return str(DBOS.recv("go", timeout_seconds=WAIT))

    @DBOS.workflow(name=f"tmo-parent-{name}")
    def parent(child_id: str) -> None:
        with SetWorkflowID(child_id), SetWorkflowTimeout(None):
            DBOS.enqueue_workflow(name, child)

    child_id = f"c-{name}"
    with SetWorkflowTimeout(1.5):  # ample for the parent, which only enqueues
        DBOS.enqueue_workflow(name, parent, child_id).get_result(timeout_seconds=WAIT)
    assert DBOS.get_workflow_status(child_id).workflow_deadline_epoch_ms is None  # type: ignore[union-attr]
    time.sleep(2.0)  # past the parent's deadline
    assert DBOS.get_workflow_status(child_id).status == "PENDING"  # type: ignore[union-attr]
    DBOS.send(child_id, "done", "go")
    assert DBOS.retrieve_workflow(child_id).get_result(timeout_seconds=WAIT) == "done"
    DBOS.delete_queue(name)
