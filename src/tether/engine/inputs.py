"""A workflow's stored inputs: how they are encoded and decoded, and the arguments to run a stored workflow with."""

from __future__ import annotations

from typing import Any

from tether.engine.cron import revive_scheduled_time
from tether.engine.registry import find_target
from tether.errors import UnregisteredWorkflowError
from tether.serialization import deserialize, serialize
from tether.storage.base import WorkflowRow
from tether.types import WorkflowSerializationFormat


def encode_inputs(args: tuple[Any, ...], kwargs: dict[str, Any], fmt: WorkflowSerializationFormat) -> bytes:
    if fmt is WorkflowSerializationFormat.PORTABLE:
        return serialize({"args": list(args), "kwargs": kwargs}, fmt)
    return serialize({"args": args, "kwargs": kwargs}, fmt)


def decode_inputs(data: bytes | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    value = deserialize(data) if data is not None else None
    if not isinstance(value, dict):
        return (), {}
    return tuple(value.get("args", ())), dict(value.get("kwargs", {}))


def execution_args(row: WorkflowRow) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments to run a stored workflow with: its inputs, after the registered instance or class of a
    method workflow.

    Raises:
        UnregisteredWorkflowError: the workflow runs on an instance (or class) not registered in this process.
        SerializationError: the inputs cannot be decoded here.
    """
    args, kwargs = decode_inputs(row.inputs)
    if row.schedule_name is not None:  # a scheduled run: its first argument is the scheduled time
        args = revive_scheduled_time(args)
    if row.class_name is None:
        return args, kwargs
    target = find_target(row.class_name, row.config_name)
    if target is None:
        what = f"instance {row.config_name!r} of class" if row.config_name is not None else "class"
        raise UnregisteredWorkflowError(row.workflow_uuid, f"{what} {row.class_name!r} is not registered "
                                                           "in this process")
    return (target, *args), kwargs
