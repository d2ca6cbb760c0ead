"""Converting values stored by DBOS 3.4 into Tether's form, without unpickling anything (engine/dbos_values.py).
The pickles here are made with DBOS's class names by hand, so the test needs no dbos package."""

from __future__ import annotations

import base64
import json
import pickle
import pickletools
import sys
import types

import pytest

import tether.error
from tether.engine.dbos_values import (
    ValueConversionError,
    convert_inputs,
    convert_sleep,
    convert_value,
    is_stream_close,
    repoint_dbos_classes,
)
from tether.serialization import PortableWorkflowError, deserialize, deserialize_error


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _stand_in(module: str, name: str, args: tuple[object, ...]) -> object:
    """An object that pickles as ``module.name(*args)`` would, under a placeholder module of the same length
    (swapped for ``module`` in the bytes), so that the real dbos package, installed or not, is never used."""
    placeholder = "x" + module[1:].replace(".", "_")
    mod = sys.modules.setdefault(placeholder, types.ModuleType(placeholder))
    cls = getattr(mod, name, None)
    if cls is None:
        cls = type(name, (Exception,), {"__module__": placeholder,
                                        "__reduce__": lambda self: (type(self), self.ctor)})
        setattr(mod, name, cls)
    obj = cls()
    obj.ctor = args
    return obj


def _named(module: str, name: str, args: tuple[object, ...], protocol: int = 4) -> bytes:
    """A pickle that calls ``module.name(*args)``, as pickling DBOS's class would have written it."""
    raw = pickle.dumps(_stand_in(module, name, args), protocol=protocol)
    return raw.replace(("x" + module[1:].replace(".", "_")).encode(), module.encode())


def test_plain_pickles_are_kept_byte_for_byte() -> None:
    raw = pickle.dumps({"args": (1, "x"), "kwargs": {"k": [1, 2]}})
    converted = convert_value(_b64(raw), "py_pickle")
    assert converted.data == b"P" + raw and deserialize(converted.data) == {"args": (1, "x"), "kwargs": {"k": [1, 2]}}
    assert convert_value(_b64(raw), None).data == b"P" + raw  # no name: DBOS's default serializer, pickle


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_dbos_error_classes_read_as_tethers(protocol: int) -> None:
    raw = _named("dbos._error", "DBOSMaxStepRetriesExceeded", ("flaky", 2, [ValueError("x")]), protocol)
    converted = convert_value(_b64(raw), "py_pickle")
    assert converted.unmapped == frozenset()
    error = deserialize_error(converted.data)
    assert isinstance(error, tether.error.DBOSMaxStepRetriesExceeded)
    assert (error.step_name, error.max_retries, str(error.errors[0])) == ("flaky", 2, "x")
    assert converted.data is not None
    list(pickletools.genops(converted.data[1:]))  # still a well-formed pickle


def test_memoized_dbos_module_names_are_repointed_each_time() -> None:
    # [dbos._error.DBOSAwaitedWorkflowCancelledError("w1"), dbos._error.DBOSMaxStepRetriesExceeded("s", 1, [])],
    # the second module name read back from the memo (BINGET 0), as a pickler may write it
    raw = (b"\x80\x04](" + b"\x8c\x0bdbos._error\x94" + b"\x8c\x21DBOSAwaitedWorkflowCancelledError\x94\x93"
           + b"\x8c\x02w1\x85R" + b"h\x00" + b"\x8c\x1aDBOSMaxStepRetriesExceeded\x93" + b"\x8c\x01sK\x01]\x87R"
           + b"e.")
    first, second = deserialize(convert_value(_b64(raw), "py_pickle").data)
    assert isinstance(first, tether.error.DBOSAwaitedWorkflowCancelledError) and first.workflow_id == "w1"
    assert isinstance(second, tether.error.DBOSMaxStepRetriesExceeded) and second.step_name == "s"
    plain = pickle.dumps([1, 2])
    assert repoint_dbos_classes(plain) == (plain, frozenset())


def test_a_dbos_class_tether_lacks_is_reported_and_left_as_is() -> None:
    raw = _named("dbos._context", "DBOSContext", ())
    converted = convert_value(_b64(raw), "py_pickle")
    assert converted.data == b"P" + raw
    assert converted.unmapped == frozenset({"dbos._context.DBOSContext"})


def test_a_kafka_message_is_read_as_tethers() -> None:
    """The argument of a DBOS Kafka consumer's workflow, enqueued but not yet run when the database moved."""
    from tether import KafkaMessage

    message = KafkaMessage(headers=None, key=b"k", latency=None, leader_epoch=None, offset=7, partition=0,
                           timestamp=(1, 1700000000000), topic="orders", value=b"v")
    raw = pickle.dumps(message).replace(b"tether.engine.kafka", b"dbos._kafka_message")
    converted = convert_value(_b64(raw), "py_pickle")
    assert converted.unmapped == frozenset()
    assert deserialize(converted.data) == message


def test_portable_values_inputs_and_errors() -> None:
    assert deserialize(convert_value('{"a":[1,2]}', "portable_json").data) == {"a": [1, 2]}
    inputs = convert_inputs('{"positionalArgs":["x"],"namedArgs":{"count":2}}', "portable_json")
    assert deserialize(inputs.data) == {"args": ["x"], "kwargs": {"count": 2}}
    assert deserialize(convert_inputs('{"positionalArgs":null}', "portable_json").data) == {"args": [], "kwargs": {}}
    error = deserialize_error(convert_value(json.dumps({"name": "KeyError", "message": "m", "code": 3,
                                                        "data": None}), "portable_json").data)
    assert isinstance(error, PortableWorkflowError)
    assert (error.name, str(error), error.code) == ("KeyError", "m", 3)


def test_a_custom_serializers_text_is_kept_under_its_name() -> None:
    assert convert_value("hello", "my_serializer").data == b"Cmy_serializer\nhello"


def test_sleep_checkpoints_become_milliseconds() -> None:
    assert deserialize(convert_sleep("1796031604.2396364", "portable_json")) == 1796031604240
    with pytest.raises(ValueConversionError):
        convert_sleep(_b64(pickle.dumps(1.0)), "py_pickle")


def test_stream_close_mark_and_malformed_values() -> None:
    assert is_stream_close('"__DBOS_STREAM_CLOSED__"', "portable_json")
    assert not is_stream_close('"__DBOS_STREAM_CLOSED__"', "py_pickle")
    with pytest.raises(ValueConversionError):
        convert_value("not base64!", "py_pickle")
    with pytest.raises(ValueConversionError):
        convert_value("{not json", "portable_json")
    with pytest.raises(ValueConversionError):
        convert_value(_b64(b"dbos, but not a pickle"), "py_pickle")


def test_stream_values_written_from_steps_keep_the_steps_identity() -> None:
    from tether.engine.dbos_import import _Converter, convert_chunk
    from tether.engine.streams import value_digest
    from tether.storage.dbos_source import DbosChunk

    def wf(wfid: str) -> dict[str, object]:
        return {"workflow_uuid": wfid, "status": "PENDING", "name": "w", "class_name": None, "config_name": None,
                "authenticated_user": None, "authenticated_roles": None, "assumed_role": None, "inputs": None,
                "output": None, "error": None, "executor_id": "local",
                "application_version": "v", "application_id": None, "created_at": 1, "updated_at": 2,
                "recovery_attempts": 1, "queue_name": None, "deduplication_id": None, "priority": 0,
                "delay_until_epoch_ms": None, "started_at_epoch_ms": 1, "workflow_timeout_ms": None,
                "workflow_deadline_epoch_ms": None, "parent_workflow_id": None, "forked_from": None,
                "serialization": "portable_json", "schedule_name": None, "is_debounced": False,
                "debounce_deadline_epoch_ms": None, "queue_partition_key": None, "attributes": "null",
                "completed_at": None, "was_forked_from": False, "application_name": None}

    def op(fid: int, name: str) -> dict[str, object]:
        return {"workflow_uuid": "w1", "function_id": fid, "function_name": name, "output": None, "error": None,
                "child_workflow_id": None, "started_at_epoch_ms": 5, "completed_at_epoch_ms": None,
                "serialization": None}

    def value(offset: int, fid: int, text: str = '"v"') -> dict[str, object]:
        return {"workflow_uuid": "w1", "key": "k", "value": text, "offset": offset, "function_id": fid,
                "serialization": "portable_json"}

    chunk = DbosChunk(workflows=[wf("w1")], operations=[op(1, "DBOS.writeStream"), op(2, "emit")], messages=[],
                      events=[], event_history=[],
                      streams=[value(0, 1), value(1, 2), value(2, 2), value(3, 3),
                               value(4, 3, '"__DBOS_STREAM_CLOSED__"')])
    to_run: list[str] = []
    batch = convert_chunk(_Converter(), chunk, None, 0, to_run)
    d = value_digest(b'J"v"')
    assert [(seq, v, ident) for _, _, seq, v, _, ident in batch.streams] == [
        (0, b'J"v"', None),        # from the workflow body: its checkpoint is DBOS.writeStream at step 1
        (1, b'J"v"', (2, 0, d)),   # step 2 wrote the value twice: occurrences 0 and 1
        (2, b'J"v"', (2, 1, d)),
        (3, b'J"v"', (3, 0, d)),   # step 3 left no checkpoint (killed mid-step): its write keeps its identity
        (4, None, None)]           # the close
    assert to_run == ["w1"] and batch.workflows[0].status == "ENQUEUED" and batch.workflows[0].queue_name
    assert batch.workflows[0].application_version is None and batch.workflows[0].attributes is None
    assert [o.completed_at for _, o in batch.operations] == [5, 5]  # DBOS left it NULL: done when started


def test_app_version_goes_to_the_workflows_still_to_run_only() -> None:
    from tether.engine.dbos_import import _Converter, _workflow

    base = {"workflow_uuid": "w", "name": "w", "class_name": None, "config_name": None, "authenticated_user": None,
            "authenticated_roles": '["admin"]', "assumed_role": None,
            "inputs": None, "output": None, "error": None, "executor_id": "local", "application_version": "dbos-hash",
            "application_id": None, "created_at": 1, "updated_at": 2, "recovery_attempts": 1,
            "queue_name": "_dbos_internal_queue", "deduplication_id": None, "priority": 0,
            "delay_until_epoch_ms": None, "started_at_epoch_ms": 1, "workflow_timeout_ms": 60000,
            "workflow_deadline_epoch_ms": 61000, "parent_workflow_id": None, "forked_from": None,
            "serialization": "py_pickle", "schedule_name": None, "is_debounced": 0, "debounce_deadline_epoch_ms": None,
            "queue_partition_key": None, "attributes": '{"a": 1}', "completed_at": None, "was_forked_from": 0,
            "application_name": None}
    pending = _workflow(_Converter(), {**base, "status": "PENDING"}, "v2")
    assert (pending.status, pending.queue_name, pending.application_version, pending.started_at_epoch_ms,
            pending.workflow_deadline_epoch_ms) == ("ENQUEUED", "_tether_internal", "v2", None, 61000)
    done = _workflow(_Converter(), {**base, "status": "SUCCESS", "completed_at": 5}, "v2")
    assert (done.status, done.application_version, done.started_at_epoch_ms, done.attributes) == (
        "SUCCESS", "dbos-hash", 1, '{"a": 1}')
    with pytest.raises(Exception, match="status 'WEIRD'"):
        _workflow(_Converter(), {**base, "status": "WEIRD"}, None)
