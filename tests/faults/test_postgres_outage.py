"""A PostgreSQL restart and a stop of a few seconds, with workflows waiting in recv, workflows in the middle of
their steps, and DBOSClient waiters: afterwards every workflow finishes with its right result, none ERROR,
none stuck, every step ran once, every message was received once."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from tests.conftest import make_config
from tests.faults.conftest import PgCluster
from tether import DBOS, DatabaseUnavailableError, DBOSClient

STEPS = 30
WAIT = 60.0  # generous bound on each result: a hang fails the test instead of blocking the suite
# The second message arrives after the restart from another client: only the listener (reconnected and
# listening again, or re-checking every waiter after it reconnected) can wake the waiter for it. Shorter than
# the 30 s safety-net re-check, so a listener that never came back would make recv time out (None).
AFTER_RESTART = 20.0


def _until(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_restart_and_stop_fail_no_workflow(pg_cluster: PgCluster) -> None:
    url = pg_cluster.create_database("tether_outage")
    tag = uuid.uuid4().hex[:8]
    runs: Counter[tuple[int, int]] = Counter()
    lock = threading.Lock()

    @DBOS.workflow(name=f"waiter-{tag}")
    def waiter(n: int) -> list[Any]:
        return [DBOS.recv("go", timeout_seconds=WAIT), DBOS.recv("go", timeout_seconds=AFTER_RESTART)]

    @DBOS.workflow(name=f"async-waiter-{tag}")
    async def async_waiter(n: int) -> list[Any]:
        first = await DBOS.recv_async("go", timeout_seconds=WAIT)
        return [first, await DBOS.recv_async("go", timeout_seconds=AFTER_RESTART)]

    @DBOS.step(name=f"slow-step-{tag}")
    def slow_step(n: int, i: int) -> int:
        with lock:
            runs[(n, i)] += 1
        time.sleep(0.05)
        return i

    @DBOS.workflow(name=f"stepper-{tag}")
    def stepper(n: int) -> int:
        return sum(slow_step(n, i) for i in range(STEPS))

    DBOS(config=make_config(url))
    DBOS.launch()
    client = DBOSClient(url)
    try:
        waiters = [DBOS.start_workflow(waiter, i) for i in range(4)]
        waiters += [DBOS.start_workflow(async_waiter, i) for i in range(4, 6)]
        steppers = [DBOS.start_workflow(stepper, i) for i in range(4)]
        everyone = waiters + steppers
        # DBOSClient waiters, parked on every workflow's result through the whole outage.
        from_client: dict[str, Any] = {}

        def follow(wfid: str) -> None:
            from_client[wfid] = client.retrieve_workflow(wfid).get_result()

        followers = [threading.Thread(target=follow, args=(h.workflow_id,)) for h in everyone]
        for t in followers:
            t.start()
        for h in waiters:
            client.send(h.workflow_id, f"first-{h.workflow_id}", "go")
        _until(lambda: sum(runs.values()) >= 4, "the steppers to start stepping")

        pg_cluster.restart()  # every connection is cut: pool, listener, the client's
        _until(lambda: sum(runs.values()) >= 4 * STEPS // 2, "the steppers to step on after the restart")

        follower = client.retrieve_workflow(steppers[0].workflow_id)
        pg_cluster.stop()
        # Sent while the server is down: the send waits for the database and then delivers, once.
        senders = [threading.Thread(target=client.send, args=(h.workflow_id, f"second-{h.workflow_id}", "go"))
                   for h in waiters]
        for t in senders:
            t.start()
        # A caller with a timeout of its own is told the database is unavailable once it runs out, rather
        # than waiting on or getting a made-up answer (None, "not finished").
        outage_started = time.monotonic()
        with pytest.raises(DatabaseUnavailableError):
            follower.get_result(timeout_seconds=0.5)
        with pytest.raises(DatabaseUnavailableError):
            client.get_event(waiters[0].workflow_id, "never-set", timeout_seconds=0.5)
        # An outage of two seconds, with steps finishing and waiting to be recorded.
        time.sleep(max(0.0, 2.0 - (time.monotonic() - outage_started)))
        pg_cluster.start()

        for t in senders:
            t.join(WAIT)
        for h in waiters:
            assert h.get_result() == [f"first-{h.workflow_id}", f"second-{h.workflow_id}"]
        for h in steppers:
            assert h.get_result() == sum(range(STEPS))
        for t in followers:
            t.join(WAIT)
        assert from_client == {h.workflow_id: h.get_result() for h in everyone}
        statuses = {h.get_status().status for h in everyone}
        assert statuses == {"SUCCESS"}
        assert set(runs.values()) == {1} and len(runs) == 4 * STEPS  # no step ran twice, none was skipped
        assert _messages_left(url, [h.workflow_id for h in waiters]) == 0
    finally:
        client.destroy()
        DBOS.destroy()


def _messages_left(url: str, workflow_ids: list[str]) -> int:
    """Messages still queued for these workflows (a send repeated by a retry would leave one behind)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM tether.messages WHERE destination_uuid = ANY(%s)",
                           (workflow_ids,)).fetchone()
    return int(row[0]) if row is not None else -1


def test_pool_hands_out_no_connection_the_restart_killed(pg_cluster: PgCluster) -> None:
    """Straight at the storage layer (no retries above it): after a restart, the next call gets a live
    connection, not one of the idle ones the server closed."""
    from tether.config import parse_database_url
    from tether.storage import open_store

    store = open_store(parse_database_url(pg_cluster.create_database("tether_pool")), pool_size=4)
    try:
        assert store.get_workflow("nobody") is None
        pg_cluster.restart()
        assert store.get_workflow("nobody") is None
    finally:
        store.close()


def test_restart_with_group_commits_in_flight_fails_no_workflow(pg_cluster: PgCluster) -> None:
    """Many async workflows checkpointing at once (their checkpoints share transactions) while the server
    restarts and then stays down for a second: batches are cut off with their commit's fate unknown. Every
    workflow still finishes with its right result, every step ran once, and each is recorded once."""
    url = pg_cluster.create_database("tether_group_outage")
    tag = uuid.uuid4().hex[:8]
    workflows, steps = 60, 20
    runs: Counter[tuple[int, int]] = Counter()

    @DBOS.step(name=f"group-step-{tag}")
    async def step(n: int, i: int) -> int:
        runs[(n, i)] += 1
        await asyncio.sleep(0.01)
        return i

    @DBOS.workflow(name=f"group-{tag}")
    async def workflow(n: int) -> int:
        total = 0
        for i in range(steps):
            total += await step(n, i)
        return total

    DBOS(config=make_config(url))
    DBOS.launch()
    try:
        handles = [DBOS.start_workflow(workflow, n) for n in range(workflows)]
        _until(lambda: sum(runs.values()) >= workflows * steps // 4, "the workflows to step")
        pg_cluster.restart()
        _until(lambda: sum(runs.values()) >= workflows * steps // 2, "the workflows to step on after the restart")
        pg_cluster.stop()
        time.sleep(1.0)
        pg_cluster.start()
        assert [h.get_result() for h in handles] == [sum(range(steps))] * workflows
        assert {h.get_status().status for h in handles} == {"SUCCESS"}
        assert set(runs.values()) == {1} and len(runs) == workflows * steps  # no step ran twice
        with psycopg.connect(url) as conn:
            counts = conn.execute("SELECT count(*), count(DISTINCT (workflow_uuid, function_id)) "
                                  "FROM tether.operation_outputs").fetchone()
        assert counts == (workflows * steps, workflows * steps)
        assert DBOS._runtime is not None and DBOS._runtime.commits.largest > 1  # checkpoints did share commits
    finally:
        DBOS.destroy()
