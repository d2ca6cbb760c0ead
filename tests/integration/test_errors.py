"""Bad input gets a clear, documented error before anything is written (both backends)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from tether import (
    DBOS,
    ConfigError,
    NonExistentWorkflowError,
    NotInWorkflowError,
    NotLaunchedError,
    SerializationError,
    SetWorkflowID,
    StorageError,
    StreamClosedError,
    TetherError,
    WorkflowNotFoundError,
)
from tether.errors import DBOSException


@DBOS.workflow()
def echo(x: object) -> object:
    return x


def test_unserializable_arguments_fail_before_anything_is_stored(dbos: type[DBOS]) -> None:
    wfid = f"unpicklable-{uuid.uuid4()}"
    with pytest.raises(SerializationError), SetWorkflowID(wfid):
        DBOS.start_workflow(echo, threading.Lock())
    assert DBOS.get_workflow_status(wfid) is None
    with pytest.raises(SerializationError), SetWorkflowID(wfid):
        echo(lambda: None)
    assert DBOS.get_workflow_status(wfid) is None


def test_unserializable_message_and_event_are_rejected(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def bad_event() -> None:
        DBOS.set_event("k", threading.Lock())

    wfid = f"target-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        echo(1)
    with pytest.raises(SerializationError):
        DBOS.send(wfid, threading.Lock())
    with pytest.raises(SerializationError):
        bad_event()


def test_unknown_workflow_ids(dbos: type[DBOS]) -> None:
    missing = f"missing-{uuid.uuid4()}"
    # As in DBOS, a result is awaited even before its workflow exists: only the timeout ends the wait.
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(DBOS.get_result_async(missing), 0.2))
    with pytest.raises(WorkflowNotFoundError):
        DBOS.retrieve_workflow(missing)
    assert DBOS.get_workflow_status(missing) is None
    with pytest.raises(NonExistentWorkflowError):
        DBOS.send(missing, "hello")
    # NonExistentWorkflowError is also a WorkflowNotFoundError and a LookupError
    with pytest.raises(LookupError):
        DBOS.send(missing, "hello")


def test_workflow_only_calls_outside_a_workflow(dbos: type[DBOS]) -> None:
    with pytest.raises(NotInWorkflowError):
        DBOS.recv("topic", timeout_seconds=0)
    with pytest.raises(NotInWorkflowError):
        DBOS.set_event("key", 1)
    with pytest.raises(NotInWorkflowError):
        DBOS.write_stream("key", 1)
    with pytest.raises(NotInWorkflowError):
        DBOS.close_stream("key")


def test_recv_inside_a_step_is_refused(dbos: type[DBOS]) -> None:
    @DBOS.step()
    def sneaky() -> object:
        return DBOS.recv("t", timeout_seconds=0)

    @DBOS.workflow()
    def wf() -> object:
        return sneaky()

    with pytest.raises(NotInWorkflowError):
        wf()


def test_write_after_close_is_refused(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def closes_then_writes() -> None:
        DBOS.close_stream("s")
        DBOS.write_stream("s", 1)

    with pytest.raises(StreamClosedError):
        closes_then_writes()


def test_bad_keys_and_topics(dbos: type[DBOS]) -> None:
    wfid = f"keys-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        echo(1)
    with pytest.raises(TypeError):
        DBOS.send(wfid, "x", topic=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DBOS.get_event(wfid, 5, timeout_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SetWorkflowID("")


def test_calls_before_launch() -> None:
    DBOS.destroy()
    with pytest.raises(NotLaunchedError):
        echo(1)
    with pytest.raises(NotLaunchedError):
        DBOS.send("x", 1)
    with pytest.raises(NotLaunchedError):
        DBOS.get_workflow_status("x")
    with pytest.raises(NotLaunchedError):
        DBOS.launch()  # no DBOS(config=...) yet


@pytest.mark.parametrize("url", ["mysql://localhost/db", "", "sqlite://", "sqlite:///:memory:", "http://x"])
def test_bad_database_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        DBOS(config={"name": "bad", "system_database_url": url}) if url else DBOS(
            config={"name": "bad!", "system_database_url": "sqlite:///x.sqlite"})


def test_unreachable_postgres_is_a_storage_error() -> None:
    DBOS(config={"name": "unreachable", "system_database_url": "postgresql://postgres@127.0.0.1:1/nope"})
    with pytest.raises(StorageError) as info:
        DBOS.launch()
    assert "127.0.0.1:1" in str(info.value)
    DBOS.destroy()


def test_unopenable_sqlite_is_a_storage_error(tmp_path: object) -> None:
    DBOS(config={"name": "unopenable", "system_database_url": "sqlite:////nonexistent-dir/x/y.sqlite"})
    with pytest.raises(StorageError):
        DBOS.launch()
    DBOS.destroy()


def test_error_tree() -> None:
    assert issubclass(ConfigError, TetherError) and issubclass(ConfigError, ValueError)
    assert issubclass(NotLaunchedError, RuntimeError)
    assert issubclass(WorkflowNotFoundError, LookupError)
    assert issubclass(SerializationError, TypeError)
    assert DBOSException is TetherError
