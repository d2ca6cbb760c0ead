"""Serialization formats with DBOS's names, the ``serializer`` config key, and errors read back in portable
form (both backends)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    DBOSPortableJSONSerializer,
    PortableWorkflowError,
    Serializer,
    SetWorkflowID,
    WorkflowSerializationFormat,
)
from tether.serialization import deserialize, is_portable, serialize


class _NotJSON:
    def __repr__(self) -> str:
        return "<not json>"


class AppError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = 409
        self.data = _NotJSON()


class TaggedJSON(Serializer):
    """An application serializer: JSON with a marker, so its output is recognisable."""

    def name(self) -> str:
        return "tagged_json"

    def serialize(self, data: Any) -> str:
        return "tagged:" + json.dumps(data)

    def deserialize(self, serialized_data: str) -> Any:
        assert serialized_data.startswith("tagged:")
        return json.loads(serialized_data[len("tagged:"):])


@pytest.fixture(autouse=True)
def _destroy() -> Iterator[None]:
    yield
    DBOS.destroy()


def test_format_names_and_values_are_dbos_s() -> None:
    assert {m.name: m.value for m in WorkflowSerializationFormat} == {
        "PORTABLE": "portable", "NATIVE": "native", "DEFAULT": "None"}
    assert WorkflowSerializationFormat(None) is WorkflowSerializationFormat.DEFAULT
    assert WorkflowSerializationFormat("pickle") is WorkflowSerializationFormat.DEFAULT  # stored before 3.4 names
    assert WorkflowSerializationFormat("json") is WorkflowSerializationFormat.PORTABLE


def test_each_format_round_trips(db_url: str) -> None:
    @DBOS.workflow(serialization_type=WorkflowSerializationFormat.NATIVE)
    def native(x: Any) -> Any:
        return x

    @DBOS.workflow(serialization_type=WorkflowSerializationFormat.PORTABLE)
    def portable_wf(x: Any) -> Any:
        return {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "amount": Decimal("1.50"), "x": x}

    DBOS(config=make_config(db_url))
    DBOS.launch()
    assert native({1, 2}) == {1, 2}  # a set survives pickle
    wfid = f"portable-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        portable_wf((1, 2))
    # read back from the database: JSON types
    assert DBOS.retrieve_workflow(wfid).get_result() == {
        "when": "2026-01-02T03:04:05.000Z", "amount": "1.50", "x": [1, 2]}


def test_portable_workflow_error_keeps_name_message_code_and_data(db_url: str) -> None:
    @DBOS.workflow(serialization_type=WorkflowSerializationFormat.PORTABLE)
    def fails() -> None:
        raise AppError("boom")

    DBOS(config=make_config(db_url))
    DBOS.launch()
    wfid = f"perr-{uuid.uuid4()}"
    with pytest.raises(AppError), SetWorkflowID(wfid):
        fails()  # the caller in this process sees its own exception
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "ERROR"
    with pytest.raises(PortableWorkflowError) as info:
        DBOS.retrieve_workflow(wfid).get_result()
    err = info.value
    assert (err.name, err.message, err.code, err.data) == ("AppError", "boom", 409, "<not json>")


def test_serializer_config_key_writes_default_values(db_url: str) -> None:
    @DBOS.workflow()
    def echo(x: Any) -> Any:
        return {"got": x}

    DBOS(config=make_config(db_url, serializer=TaggedJSON()))
    DBOS.launch()
    assert echo([1, "a"]) == {"got": [1, "a"]}
    raw = serialize({"k": 1})
    assert raw.startswith(b"C") and b"tagged:" in raw and deserialize(raw) == {"k": 1}
    native = serialize({"k": 1}, WorkflowSerializationFormat.NATIVE)
    assert native.startswith(b"P")  # NATIVE is pickle whatever the serializer


def test_portable_json_serializer_as_default_stores_json(db_url: str) -> None:
    @DBOS.workflow()
    def echo(x: Any) -> Any:
        return x

    DBOS(config=make_config(db_url, serializer=DBOSPortableJSONSerializer()))
    DBOS.launch()
    wfid = f"pj-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        echo({"a": (1, 2)})
    assert DBOS.retrieve_workflow(wfid).get_result() == {"a": [1, 2]}
    assert is_portable(serialize("anything"))
    assert DBOSPortableJSONSerializer().deserialize(DBOSPortableJSONSerializer().serialize({"x": {1, 2}})) == {
        "x": [1, 2]}


def test_the_start_handle_raises_the_error_as_raised_a_retrieved_one_the_stored_form(db_url: str) -> None:
    class LocalError(Exception):  # a local class: it cannot be pickled, so it is stored in portable form
        pass

    @DBOS.step()
    def failing_step() -> None:
        raise LocalError("Custom error message")

    @DBOS.workflow()
    def failing() -> None:
        failing_step()

    DBOS(config=make_config(db_url, serializer=DBOSPortableJSONSerializer()))
    DBOS.launch()
    handle = DBOS.start_workflow(failing)
    with pytest.raises(LocalError, match="Custom error message"):
        handle.get_result()
    with pytest.raises(PortableWorkflowError) as info:
        DBOS.retrieve_workflow(handle.workflow_id).get_result()
    assert (info.value.name, info.value.message) == ("LocalError", "Custom error message")
