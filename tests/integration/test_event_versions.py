"""Versioned events (both backends): every set_event is the key's next version, stored durably; readers follow a
key from any version on (sync, async, DBOSClient), resume, end when the workflow ends, and are woken only by
their own key; a replayed set_event adds no version."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest

from tether import (
    DBOS,
    AwaitedWorkflowCancelledError,
    DBOSClient,
    EventVersion,
    NonExistentWorkflowError,
    SetWorkflowID,
)
from tether.config import parse_database_url
from tether.engine.event_watch import EventWatcher
from tether.storage import open_store
from tether.storage.base import OperationRow

from .test_http_gateway import CMD, start_driven


def versions(changes: list[EventVersion]) -> list[tuple[int, Any]]:
    return [(c.version, c.value) for c in changes]


def set_in(workflow_id: str, key: str, value: Any) -> None:
    """Have the driven workflow set an event, and wait until it has."""
    DBOS.send(workflow_id, {"op": "event", "key": key, "value": value}, CMD)
    marker = f"{key}={value!r}"
    DBOS.send(workflow_id, {"op": "event", "key": "ack", "value": marker}, CMD)
    while DBOS.get_event(workflow_id, "ack", timeout_seconds=60) != marker:
        time.sleep(0.001)


def finish(workflow_id: str) -> None:
    DBOS.send(workflow_id, {"op": "close"}, CMD)
    assert DBOS.retrieve_workflow(workflow_id).get_result() == "done"


def test_each_set_event_is_the_next_version_and_get_event_is_unchanged(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def publisher() -> None:
        for pct in (0, 50, 100):
            DBOS.set_event("progress", pct)
        DBOS.set_event("status", "done")

    wfid = f"ver-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        publisher()
    assert DBOS.get_event(wfid, "progress", timeout_seconds=0) == 100  # DBOS's call: the value alone
    latest = DBOS.get_event_with_version(wfid, "progress", timeout_seconds=0)
    assert latest is not None and (latest.key, latest.version, latest.value) == ("progress", 3, 100)
    assert latest.created_at_epoch_ms > 0
    assert DBOS.get_event_with_version(wfid, "missing", timeout_seconds=0) is None
    assert versions(list(DBOS.watch_event(wfid, "progress"))) == [(1, 0), (2, 50), (3, 100)]
    assert versions(list(DBOS.watch_event(wfid, "progress", from_version=2))) == [(2, 50), (3, 100)]
    assert list(DBOS.watch_event(wfid, "progress", from_version=4)) == []  # ended: nothing more to come
    assert versions(list(DBOS.watch_event(wfid, "status"))) == [(1, "done")]
    assert list(DBOS.watch_event(wfid, "never set")) == []


def test_watch_follows_live_and_ends_when_the_workflow_ends(dbos: type[DBOS]) -> None:
    w = start_driven()
    seen: list[EventVersion] = []
    started = threading.Event()

    def follow() -> None:
        started.set()
        seen.extend(DBOS.watch_event(w, "progress"))

    reader = threading.Thread(target=follow)
    reader.start()
    started.wait()
    for pct in (10, 20, 30):
        set_in(w, "progress", pct)
    finish(w)
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert versions(seen) == [(1, 10), (2, 20), (3, 30)]


def test_resume_from_the_last_version_seen(dbos: type[DBOS]) -> None:
    w = start_driven()
    for pct in (1, 2, 3):
        set_in(w, "p", pct)
    first: list[EventVersion] = []
    for change in DBOS.watch_event(w, "p"):
        first.append(change)
        if change.version == 2:
            break  # the reader goes away after version 2
    set_in(w, "p", 4)
    finish(w)
    rest = list(DBOS.watch_event(w, "p", from_version=first[-1].version + 1))
    assert versions(first) + versions(rest) == [(1, 1), (2, 2), (3, 3), (4, 4)]


def test_async_watch_holds_no_thread_and_ends_with_the_workflow(dbos: type[DBOS]) -> None:
    w = start_driven()

    async def main() -> list[EventVersion]:
        threads_before = threading.active_count()
        task = asyncio.create_task(_collect(DBOS.watch_event_async(w, "k")))
        for value in ("a", "b"):
            await DBOS.send_async(w, {"op": "event", "key": "k", "value": value}, CMD)
        latest = await DBOS.get_event_with_version_async(w, "k", timeout_seconds=60)
        assert latest is not None
        assert threading.active_count() <= threads_before + 1  # a waiting follower is a task, not a thread
        await DBOS.send_async(w, {"op": "close"}, CMD)
        return await asyncio.wait_for(task, 60)

    assert versions(asyncio.run(main())) == [(1, "a"), (2, "b")]


async def _collect(changes: Any) -> list[EventVersion]:
    return [c async for c in changes]


def test_replayed_set_event_adds_no_version(dbos: type[DBOS]) -> None:
    """A cancelled workflow resumed runs again from its checkpoints: its recorded set_events replay without a
    new version, and the next set_event continues the numbering."""
    w = start_driven()
    set_in(w, "p", "first")
    DBOS.cancel_workflow(w)
    assert versions(list(DBOS.watch_event(w, "p"))) == [(1, "first")]  # cancelled: the follow ends
    DBOS.resume_workflow(w)
    set_in(w, "p", "second")
    finish(w)
    assert versions(list(DBOS.watch_event(w, "p"))) == [(1, "first"), (2, "second")]
    assert versions(list(DBOS.watch_event(w, "ack"))) == [(1, "p='first'"), (2, "p='second'")]


def test_store_set_event_with_a_recorded_operation_adds_no_version(dbos: type[DBOS], db_url: str) -> None:
    w = start_driven()
    store = open_store(parse_database_url(db_url))
    try:
        op = OperationRow(function_id=1000, function_name="DBOS.setEvent", started_at=1, completed_at=1)
        store.set_event(w, "k", b"x", 1, op, 1000)
        store.set_event(w, "k", b"y", 2, op, 1000)  # a replay of the same operation
        store.set_event(w, "k", b"z", 3, None, 7)    # from a step: not checkpointed, a new version
        chunk = store.read_event_versions(w, "k", 1)
        assert [(r.version, r.value) for r in chunk.entries] == [(1, b"x"), (2, b"z")]
        assert chunk.workflow_status == "PENDING"
        latest = store.get_event_version(w, "k")
        assert latest is not None and (latest.version, latest.value) == (2, b"z")
    finally:
        store.close()
        finish(w)


def test_set_event_from_a_retried_step_is_a_version_per_attempt(dbos: type[DBOS]) -> None:
    tries: list[int] = []

    @DBOS.step(retries_allowed=True, interval_seconds=0.01, max_attempts=3)
    def flaky() -> None:
        tries.append(1)
        DBOS.set_event("attempt", len(tries))
        if len(tries) < 2:
            raise RuntimeError("flaky")

    @DBOS.workflow()
    def wf() -> None:
        flaky()

    handle = DBOS.start_workflow(wf)
    handle.get_result()
    assert versions(list(DBOS.watch_event(handle.workflow_id, "attempt"))) == [(1, 1), (2, 2)]


def test_following_reads_only_when_its_own_key_changes(dbos: type[DBOS], monkeypatch: pytest.MonkeyPatch) -> None:
    """A follower of one key does no query for writes to other keys: 200 writes to "noise" while it waits
    cost it nothing; only a notification of its key (or of its workflow's status) makes it read, once."""
    w = start_driven()
    rt = DBOS._runtime
    assert rt is not None
    notified = {"own": 0, "noise": 0}
    hub_notify = rt.hub.notify

    def counting_notify(kind: str, workflow_id: str, key: str) -> None:
        if workflow_id == w and ((kind == "event" and key == "watched") or kind == "wf"):
            notified["own"] += 1
        elif workflow_id == w and kind == "event" and key == "noise":
            notified["noise"] += 1
        hub_notify(kind, workflow_id, key)

    monkeypatch.setattr(rt.hub, "notify", counting_notify)
    watcher = EventWatcher(rt, w, "watched")
    got: list[EventVersion] = []

    async def follow() -> None:
        while (batch := await watcher.next_batch()) is not None:
            got.extend(batch)

    reader = threading.Thread(target=lambda: asyncio.run(follow()))
    reader.start()
    while watcher.reads == 0 or rt.hub.count("event") == 0:  # the follower has read once and is parked
        time.sleep(0.001)
    reads_before, own_before = watcher.reads, notified["own"]
    # the first read, and at most one per notification of its own (on SQLite the wake-up log may echo the
    # workflow's own start late, after that first read)
    assert reads_before <= 1 + own_before
    for i in range(200):
        DBOS.send(w, {"op": "event", "key": "noise", "value": i}, CMD)
    DBOS.send(w, {"op": "event", "key": "ack", "value": "noise done"}, CMD)
    assert DBOS.get_event(w, "ack", timeout_seconds=60) == "noise done"
    assert notified["noise"] >= 200
    # not one read for 200 writes to another key: every read so far answers the first look or a notification
    # of its own key or status. (Counting them from the snapshot alone is racy: a notification counted before
    # it may be read just after it.) At most one of its own came meanwhile: a late echo of the workflow's start.
    assert watcher.reads <= 1 + notified["own"]
    assert notified["own"] - own_before <= 1
    DBOS.send(w, {"op": "event", "key": "watched", "value": "v1"}, CMD)
    finish(w)
    reader.join(timeout=60)
    assert versions(got) == [(1, "v1")]
    assert watcher.reads <= 1 + notified["own"]  # each read answers a notification of its own key or status


def test_client_follows_and_reads_versions(dbos: type[DBOS], db_url: str) -> None:
    w = start_driven()
    set_in(w, "k", "one")
    with DBOSClient(db_url) as client:
        latest = client.get_event_with_version(w, "k", timeout_seconds=5)
        assert latest is not None and latest.version == 1
        seen: list[EventVersion] = []
        reader = threading.Thread(target=lambda: seen.extend(client.watch_event(w, "k")))
        reader.start()
        set_in(w, "k", "two")
        finish(w)
        reader.join(timeout=60)
        assert versions(seen) == [(1, "one"), (2, "two")]

        async def from_two() -> tuple[list[EventVersion], EventVersion | None]:
            changes = [c async for c in client.watch_event_async(w, "k", from_version=2)]
            return changes, await client.get_event_with_version_async(w, "k", timeout_seconds=0)

        changes, last = asyncio.run(from_two())
        assert versions(changes) == [(2, "two")] and last is not None and last.version == 2


def test_watch_errors(dbos: type[DBOS]) -> None:
    with pytest.raises(NonExistentWorkflowError):
        list(DBOS.watch_event(f"nobody-{uuid.uuid4()}", "k"))
    with pytest.raises(ValueError):
        list(DBOS.watch_event("w", "k", from_version=-1))
    with pytest.raises(TypeError):
        list(DBOS.watch_event("w", "k", from_version="1"))  # type: ignore[arg-type]


def test_forks_keep_the_versions_set_before_their_start_step(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def counter() -> None:
        for i in range(1, 4):
            DBOS.set_event("n", i)  # steps 1, 2, 3

    wfid = f"fork-src-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        counter()
    fork = DBOS.fork_workflow(wfid, 3)  # runs again from step 3: versions 1 and 2 are kept
    fork.get_result()
    assert versions(list(DBOS.watch_event(fork.workflow_id, "n"))) == [(1, 1), (2, 2), (3, 3)]
    assert versions(list(DBOS.watch_event(wfid, "n"))) == [(1, 1), (2, 2), (3, 3)]


def test_cli_event_watch_prints_versions_live_until_the_workflow_ends(dbos: type[DBOS], db_url: str) -> None:
    import json
    import subprocess
    import sys

    w = start_driven()
    set_in(w, "p", "one")
    follower = subprocess.Popen([sys.executable, "-m", "tether.cli", "event", "watch", w, "p", "--json",
                                 "--db", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        first = json.loads(follower.stdout.readline())
        assert (first["version"], first["value"]) == (1, "one")
        DBOS.send(w, {"op": "event", "key": "p", "value": {"two": 2}}, CMD)
        second = json.loads(follower.stdout.readline())
        assert (second["version"], second["value"]) == (2, {"two": 2})
        finish(w)
        assert follower.wait(timeout=60) == 0, follower.stderr.read() if follower.stderr else ""
        assert follower.stdout.read() == ""
    finally:
        follower.kill()
    plain = subprocess.run([sys.executable, "-m", "tether.cli", "event", "watch", w, "p", "--from-version", "2",
                            "--db", db_url], capture_output=True, text=True, timeout=60)
    assert (plain.returncode, plain.stdout) == (0, '2\t{"two":2}\n')


def test_a_cancelled_workflow_stops_watching(dbos: type[DBOS]) -> None:
    w = start_driven()

    @DBOS.workflow()
    def watcher(target: str) -> int:
        return len(list(DBOS.watch_event(target, "never")))

    handle = DBOS.start_workflow(watcher, w)
    rt = DBOS._runtime
    assert rt is not None
    while rt.hub.count("event") == 0:  # the watcher is parked on the key
        time.sleep(0.001)
    DBOS.cancel_workflow(handle.workflow_id)
    with pytest.raises(AwaitedWorkflowCancelledError):
        handle.get_result()
    assert DBOS.get_workflow_status(handle.workflow_id).status == "CANCELLED"  # type: ignore[union-attr]
    while rt.hub.count("event") != 0:  # and it no longer waits
        time.sleep(0.001)
    finish(w)


def test_many_async_watchers_hold_no_thread(dbos: type[DBOS]) -> None:
    """300 async followers (of 300 keys) parked on one event loop: no thread more than with one; each key set
    reaches its follower only, and all end with the workflow."""
    w = start_driven()
    rt = DBOS._runtime
    assert rt is not None
    keys = [f"k{i}" for i in range(300)]

    async def main() -> list[list[EventVersion]]:
        first = asyncio.create_task(_collect(DBOS.watch_event_async(w, keys[0])))
        while rt.hub.count("event") < 1:
            await asyncio.sleep(0.001)
        threads_with_one = threading.active_count()
        rest = [asyncio.create_task(_collect(DBOS.watch_event_async(w, k))) for k in keys[1:]]
        while rt.hub.count("event") < len(keys):
            await asyncio.sleep(0.001)
        assert threading.active_count() <= threads_with_one
        for k in keys[::50]:
            await DBOS.send_async(w, {"op": "event", "key": k, "value": k}, CMD)
        await DBOS.send_async(w, {"op": "close"}, CMD)
        return await asyncio.wait_for(asyncio.gather(first, *rest), 120)

    results = asyncio.run(main())
    assert {k: versions(got) for k, got in zip(keys, results, strict=True) if got} == {
        k: [(1, k)] for k in keys[::50]}
