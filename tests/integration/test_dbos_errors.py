"""Code written against DBOS's error classes catches what Tether raises, with the texts people match on
(both backends)."""

from __future__ import annotations

import inspect
import pickle
import threading
import uuid

import pytest

from tether import DBOS, DBOSClient, SetWorkflowID, error
from tether.errors import (
    AwaitedWorkflowCancelledError,
    MaxRecoveryAttemptsExceeded,
    MaxStepRetriesExceeded,
    NonExistentWorkflowError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
)

# The exception classes ``dbos.error`` exports in DBOS 3.4 (read once from dbos==3.4.0).
DBOS_ERROR_CLASSES = [
    "DBOSAwaitedWorkflowCancelledError", "DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded", "DBOSBaseException",
    "DBOSConflictingWorkflowError", "DBOSException", "DBOSInitializationError", "DBOSMaxStepRetriesExceeded",
    "DBOSNonExistentWorkflowError", "DBOSNotAuthorizedError", "DBOSPatchNondeterminismError",
    "DBOSQueryTimeoutError", "DBOSQueueDeduplicatedError", "DBOSRecoveryError", "DBOSStepNondeterminismError",
    "DBOSStepTimeoutError", "DBOSStreamNondeterminismError", "DBOSStreamTimeoutError", "DBOSUnexpectedStepError",
    "DBOSWorkflowCancelledError", "DBOSWorkflowConflictIDError", "DBOSWorkflowFunctionNotFoundError",
    "DBOSWorkflowIDInUseError", "MaxRecoveryAttemptsExceededError",
]


@DBOS.workflow()
def echo(x: object) -> object:
    return x


def test_every_dbos_error_class_is_exported() -> None:
    for name in DBOS_ERROR_CLASSES:
        cls = getattr(error, name)
        assert isinstance(cls, type) and issubclass(cls, BaseException), name
    assert issubclass(error.DBOSWorkflowCancelledError, error.DBOSBaseException)
    assert not issubclass(error.DBOSBaseException, Exception)
    assert error.DBOSErrorCode.NonExistentWorkflowError.value == 5


def _sample_args(cls: type[BaseException]) -> list[object]:
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.default is inspect.Parameter.empty]
    return [1.5 if "timeout" in p.name else 3 if p.name in ("step_id", "max_retries") else
            [] if p.name == "errors" else f"v-{p.name}" for p in params]


@pytest.mark.parametrize("name", DBOS_ERROR_CLASSES)
def test_every_dbos_error_survives_pickle(name: str) -> None:
    cls = getattr(error, name)
    exc = cls(*_sample_args(cls))
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is cls and str(again) == str(exc)


def test_unknown_ids_are_caught_as_dbos_non_existent(dbos: type[DBOS]) -> None:
    missing = f"missing-{uuid.uuid4()}"
    with pytest.raises(error.DBOSNonExistentWorkflowError):
        DBOS.retrieve_workflow(missing)
    with pytest.raises(error.DBOSNonExistentWorkflowError) as info:
        DBOS.send(missing, "hello")
    assert f"DBOS Error 5: Non-existent `send` destination workflow ID: {missing}" in str(info.value)
    assert isinstance(info.value, NonExistentWorkflowError) and isinstance(info.value, WorkflowNotFoundError)
    assert info.value.workflow_id == missing


def test_workflow_only_calls_name_themselves_as_dbos_does(dbos: type[DBOS]) -> None:
    with pytest.raises(error.DBOSException, match=r"recv\(\) must be called from within a workflow"):
        DBOS.recv("t", timeout_seconds=0)
    with pytest.raises(error.DBOSException, match=r"set_event\(\) must be called from within a workflow"):
        DBOS.set_event("k", 1)
    with pytest.raises(error.DBOSException, match=r"write_stream\(\) must be called from within a workflow"):
        DBOS.write_stream("k", 1)


def test_conflicting_function_is_a_dbos_conflict(dbos: type[DBOS]) -> None:
    @DBOS.workflow()
    def other(x: object) -> object:
        return x

    wfid = f"conflict-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        echo(1)
    with pytest.raises(error.DBOSConflictingWorkflowError,
                       match="Workflow already exists with a different function name"), SetWorkflowID(wfid):
        other(1)


def test_step_retries_exhausted_is_a_dbos_max_step_retries(dbos: type[DBOS]) -> None:
    @DBOS.step(retries_allowed=True, max_attempts=2, interval_seconds=0)
    def always_fails() -> None:
        raise KeyError("nope")

    @DBOS.workflow()
    def wf() -> None:
        always_fails()

    with pytest.raises(error.DBOSMaxStepRetriesExceeded) as info:
        wf()
    assert isinstance(info.value, MaxStepRetriesExceeded)
    # As in DBOS, ``errors`` holds every attempt's failure, in order.
    assert [type(e) for e in info.value.errors] == [KeyError, KeyError] and info.value.max_retries == 2


def test_cancellation_is_not_swallowed_by_except_exception(dbos: type[DBOS]) -> None:
    started, swallowed = threading.Event(), []

    @DBOS.workflow()
    def careless() -> str:
        started.set()
        while True:
            try:
                DBOS.sleep(0.01)
            except Exception as exc:  # user code that catches everything it can
                swallowed.append(exc)
                return "swallowed"

    wfid = f"cancel-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        handle = DBOS.start_workflow(careless)
    assert started.wait(30)
    DBOS.cancel_workflow(wfid)
    with pytest.raises(error.DBOSAwaitedWorkflowCancelledError, match="was cancelled") as info:
        handle.get_result()
    assert isinstance(info.value, AwaitedWorkflowCancelledError)
    assert swallowed == []
    assert DBOS.get_workflow_status(wfid).status == "CANCELLED"  # type: ignore[union-attr]
    assert issubclass(WorkflowCancelledError, error.DBOSWorkflowCancelledError)


def test_awaiting_a_dead_lettered_workflow_is_caught_by_either_name() -> None:
    from tether.errors import AwaitedWorkflowMaxRecoveryAttemptsExceeded

    exc = AwaitedWorkflowMaxRecoveryAttemptsExceeded("wf-1", 3)
    assert isinstance(exc, error.DBOSAwaitedWorkflowMaxRecoveryAttemptsExceeded)
    assert isinstance(exc, MaxRecoveryAttemptsExceeded) and isinstance(exc, error.MaxRecoveryAttemptsExceededError)
    assert "DBOS Error 14" in str(exc) and exc.max_attempts == 3
    assert str(pickle.loads(pickle.dumps(exc))) == str(exc)


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_workflow_id_is_refused_in_dbos_s_words(blank: str) -> None:
    with pytest.raises(ValueError, match="workflow ID"):
        SetWorkflowID(blank)


def test_an_empty_workflow_id_is_refused_with_dbos_s_text(client: DBOSClient) -> None:
    """DBOS 3.4 refuses a blank (or None) ``SetWorkflowID`` and a blank ``workflow_id`` enqueue option with
    ``DBOSException("Invalid workflow ID ...")``; Tether's text was its own, and an enqueue option of ``""``
    was taken for "no ID given" and enqueued a workflow under a new one."""
    queue = f"blank-{uuid.uuid4().hex[:8]}"
    for bad in ("", "   ", None):
        with pytest.raises(error.DBOSException, match="Invalid workflow ID"):
            SetWorkflowID(bad)  # type: ignore[arg-type]
    for bad in ("", "   "):
        with pytest.raises(error.DBOSException, match="Invalid workflow ID"):
            client.enqueue({"queue_name": queue, "workflow_name": "anything", "workflow_id": bad})
        with pytest.raises(error.DBOSException, match="Invalid workflow ID"):
            DBOS.enqueue_workflow_with_options({"queue_name": queue, "workflow_name": "anything",
                                                "workflow_id": bad})
    assert client.list_workflows(queue_name=queue) == []


def test_starting_a_function_that_is_no_workflow_is_dbos_s_error(dbos: type[DBOS]) -> None:
    """DBOS 3.4 refuses to start or enqueue a plain function with ``DBOSWorkflowFunctionNotFoundError``
    (error code 4); Tether raised a bare ``TypeError``, which ``except DBOSException`` did not catch. It is
    still a ``TypeError`` too."""
    from tether import Queue

    def plain(x: int) -> int:
        return x

    queue = Queue(f"plain-{uuid.uuid4().hex[:8]}")
    for attempt in (lambda: DBOS.start_workflow(plain, 1), lambda: queue.enqueue(plain, 1),
                    lambda: DBOS.enqueue_workflow(queue.name, plain, 1)):
        with pytest.raises(error.DBOSWorkflowFunctionNotFoundError,
                           match="plain is not a registered workflow function") as info:
            attempt()
        assert isinstance(info.value, TypeError) and info.value.dbos_error_code == 4
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)
