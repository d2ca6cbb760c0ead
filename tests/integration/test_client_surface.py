"""``DBOSClient`` and the handles take DBOS 3.4's options and argument shapes (both backends)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tether import DBOS, DBOSClient, SetWorkflowID
from tether.error import (
    DBOSAwaitedWorkflowCancelledError as AwaitedWorkflowCancelledError,
)
from tether.error import DBOSException, DBOSNonExistentWorkflowError, DBOSStreamTimeoutError

gate = threading.Event()


@DBOS.workflow()
def waits_for_message(topic: str) -> Any:
    return DBOS.recv(topic, timeout_seconds=30)


@DBOS.workflow()
def gated(x: int) -> int:
    gate.wait(30)
    return x


@DBOS.workflow()
def streams_three() -> None:
    for i in range(3):
        DBOS.write_stream("s", i)
    DBOS.close_stream("s")


@DBOS.workflow()
def streams_one_then_waits() -> None:
    DBOS.write_stream("s", "first")
    gate.wait(30)


@pytest.fixture
def client(dbos: type[DBOS], db_url: str) -> Iterator[DBOSClient]:
    gate.clear()
    c = DBOSClient(system_database_url=db_url)
    yield c
    gate.set()
    c.destroy()


def test_send_takes_the_idempotency_key_positionally(client: DBOSClient) -> None:
    wfid = f"recv-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(waits_for_message, "t")
    client.send(wfid, "once", "t", "key-1")
    client.send(wfid, "twice", "t", "key-1")  # the same key: delivered once
    assert handle.get_result(polling_interval_sec=0.1) == "once"
    with pytest.raises(DBOSNonExistentWorkflowError, match="Non-existent `send` destination"):
        client.send(f"missing-{uuid.uuid4()}", "x", "t", "k")


def test_handle_and_destroy_accept_dbos_keywords(client: DBOSClient) -> None:
    handle = DBOS.start_workflow(gated, 5)
    gate.set()
    assert handle.get_result(polling_interval_sec=0.5) == 5
    assert client.retrieve_workflow(handle.workflow_id).get_result(polling_interval_sec=0.5) == 5


def test_lazy_client_connects_on_first_use(dbos: type[DBOS], db_url: str) -> None:
    with pytest.raises(DBOSException, match="lazy"):
        DBOSClient(system_database_url=db_url, lazy=True, use_listen_notify=True)
    lazy = DBOSClient(system_database_url=db_url, lazy=True, system_database_pool_size=2,
                      application_name=None, retry_connection_errors=True)
    try:
        lazy.check_connection()
        assert lazy.get_workflow_status(f"missing-{uuid.uuid4()}") is None
    finally:
        lazy.destroy()


def test_client_refuses_options_it_would_ignore(db_url: str) -> None:
    with pytest.raises(DBOSException, match="system_database_engine"):
        DBOSClient(system_database_url=db_url, system_database_engine=object())
    with pytest.raises(DBOSException, match="sharding"):
        DBOSClient(system_database_url=db_url, sharding=True)


def test_client_wait_first(client: DBOSClient) -> None:
    slow = DBOS.start_workflow(gated, 1)
    wfid = f"fast-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(streams_three).get_result()
    handles = [client.retrieve_workflow(slow.workflow_id), client.retrieve_workflow(wfid)]
    assert client.wait_first(handles).workflow_id == wfid

    async def both() -> str:
        hs = [await client.retrieve_workflow_async(slow.workflow_id), await client.retrieve_workflow_async(wfid)]
        return (await client.wait_first_async(hs, polling_interval_sec=0.5)).workflow_id

    assert asyncio.run(both()) == wfid
    with pytest.raises(ValueError):
        client.wait_first([])


def test_stream_reading_options(client: DBOSClient) -> None:
    wfid = f"stream-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(streams_three).get_result()
    assert list(client.read_stream(wfid, "s", offset=1, polling_interval_sec=0.1, timeout_seconds=5)) == [1, 2]
    assert client.read_stream_offset(wfid, "s", 2) == 2
    assert DBOS.read_stream_offset(wfid, "s", 0, timeout_seconds=5) == 0
    assert asyncio.run(client.read_stream_offset_async(wfid, "s", 1)) == 1
    with pytest.raises(DBOSStreamTimeoutError):  # the stream closed before offset 3
        client.read_stream_offset(wfid, "s", 3)
    missing = f"missing-{uuid.uuid4()}"
    with pytest.raises(DBOSNonExistentWorkflowError):
        list(client.read_stream(missing, "s"))
    with pytest.raises(DBOSNonExistentWorkflowError):
        list(DBOS.read_stream(missing, "s"))


def test_stream_read_times_out_while_the_writer_is_still_running(client: DBOSClient) -> None:
    wfid = f"open-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(streams_one_then_waits)
    assert client.read_stream_offset(wfid, "s", 0, timeout_seconds=10) == "first"
    with pytest.raises(DBOSStreamTimeoutError, match=r"within 0\.2 seconds"):
        client.read_stream_offset(wfid, "s", 1, timeout_seconds=0.2)
    seen = []
    with pytest.raises(DBOSStreamTimeoutError):
        for value in DBOS.read_stream(wfid, "s", timeout_seconds=0.2):
            seen.append(value)
    assert seen == ["first"]


def test_destroy_twice_is_harmless(dbos: type[DBOS], db_url: str) -> None:
    c = DBOSClient(system_database_url=db_url)
    c.destroy()
    c.destroy()


hold = threading.Event()
reader_saw = threading.Event()


@DBOS.workflow()
def writes_then_holds() -> None:
    DBOS.write_stream("s", "v0")
    hold.wait(30)


@DBOS.workflow()
def reads_stream_of(target: str) -> list[Any]:
    seen = []
    for value in DBOS.read_stream(target, "s"):
        seen.append(value)
        reader_saw.set()
    return seen


def test_a_workflow_reading_a_stream_stops_when_cancelled(dbos: type[DBOS]) -> None:
    hold.clear()
    reader_saw.clear()
    writer = DBOS.start_workflow(writes_then_holds)
    try:
        reader = DBOS.start_workflow(reads_stream_of, writer.workflow_id)
        assert reader_saw.wait(30)
        DBOS.cancel_workflow(reader.workflow_id)
        with pytest.raises(AwaitedWorkflowCancelledError):
            reader.get_result(timeout_seconds=30)
    finally:
        hold.set()
    writer.get_result()


def test_send_bulk_takes_dbos_s_send_message_dataclass(client: DBOSClient) -> None:
    from tether import SendMessage

    wfid = f"bulk-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(waits_for_message, "t")
    client.send_bulk([SendMessage(wfid, "first", "t"), SendMessage(wfid, "ignored", "other")])
    assert handle.get_result() == "first"


@DBOS.workflow()
def publishes() -> str:
    DBOS.set_event("e", "value")
    DBOS.write_stream("s", 1)
    DBOS.close_stream("s")
    return "done"


@DBOS.workflow()
def ticks(scheduled_at: Any, context: Any) -> None:
    pass


def test_the_calls_dbos_takes_a_shard_key_in_take_one_and_ignore_it(client: DBOSClient) -> None:
    # The database is not sharded: DBOS's own unsharded database ignores shard_key the same way.
    with SetWorkflowID(wfid=f"sharded-{uuid.uuid4()}"):  # SetWorkflowID's parameter is DBOS's `wfid`
        handle = DBOS.start_workflow(publishes)
    wfid = handle.get_workflow_id()
    assert DBOS.get_result(wfid, shard_key="s1") == "done"
    assert DBOS.get_event(wfid, "e", 5, shard_key="s1") == "value"
    assert list(DBOS.read_stream(wfid, "s", shard_key="s1")) == [1]
    assert client.get_event(wfid, "e", 5, shard_key="s1") == "value"
    assert list(client.read_stream(wfid, "s", shard_key="s1")) == [1]
    assert client.retrieve_workflow(wfid, shard_key="s1").get_result() == "done"

    async def from_async_code() -> None:
        assert await DBOS.get_event_async(wfid, "e", 5, shard_key="s1") == "value"
        assert [v async for v in DBOS.read_stream_async(wfid, "s", shard_key="s1")] == [1]
        assert await client.get_event_async(wfid, "e", 5, shard_key="s1") == "value"
        assert [v async for v in client.read_stream_async(wfid, "s", shard_key="s1")] == [1]
        assert await (await client.retrieve_workflow_async(wfid, shard_key="s1")).get_result() == "done"

    asyncio.run(from_async_code())
    DBOS.create_schedule(schedule_name=f"a-{uuid.uuid4()}", workflow_fn=ticks, schedule="0 0 1 1 *",
                         shard_key="s1")
    client.create_schedule(schedule_name=f"b-{uuid.uuid4()}", workflow_name=ticks.__qualname__,
                           schedule="0 0 1 1 *", shard_key="s1")
    names = {s["schedule_name"] for s in DBOS.list_schedules()}
    assert any(n.startswith("a-") for n in names) and any(n.startswith("b-") for n in names)


def test_a_priority_out_of_range_is_a_dbos_exception(client: DBOSClient) -> None:
    """DBOS 3.4 refuses a priority out of range with ``DBOSException("Invalid priority ...")``: ``except
    DBOSException`` catches Tether's refusal too (which is also a ``ValueError``), and nothing is enqueued."""
    from tether import Queue, SetEnqueueOptions

    wfid = f"prio-{uuid.uuid4()}"
    for priority in (-1, 2**31):
        with pytest.raises(DBOSException, match="Invalid priority") as info:
            client.enqueue({"queue_name": "q", "workflow_name": "gated", "workflow_id": wfid,
                            "priority": priority}, 1)
        assert isinstance(info.value, ValueError)
        with pytest.raises(DBOSException, match="Invalid priority"):
            SetEnqueueOptions(priority=priority)
        with pytest.raises(DBOSException, match="Invalid priority"):
            DBOS.enqueue_workflow_with_options({"queue_name": "q", "workflow_name": "gated", "priority": priority})
    assert client.get_workflow_status(wfid) is None
    assert Queue(f"prio-{uuid.uuid4().hex[:8]}").enqueue(gated, 3) is not None
    gate.set()
