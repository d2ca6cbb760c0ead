"""Turning values into bytes for the database and back.

Every stored value carries its format in its first byte, so a reader (a client in another language, the HTTP
gateway) can tell a JSON value from a pickle without unpickling anything:

- ``P`` + pickle: the default, any picklable Python value.
- ``J`` + UTF-8 JSON: the portable format, for values that cross languages or HTTP.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

from tether.errors import SerializationError
from tether.types import WorkflowSerializationFormat

_PICKLE = b"P"
_JSON = b"J"


def serialize(value: Any, fmt: WorkflowSerializationFormat | str | None = None) -> bytes:
    """Encode ``value`` in ``fmt`` (default pickle).

    Raises:
        SerializationError: the value cannot be encoded in that format.
    """
    fmt = WorkflowSerializationFormat(fmt) if fmt is not None else WorkflowSerializationFormat.DEFAULT
    if fmt is WorkflowSerializationFormat.PORTABLE:
        try:
            return _JSON + json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"Value of type {type(value).__name__} is not JSON-serializable: {exc}") from exc
    try:
        return _PICKLE + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # pickle raises many types (TypeError, AttributeError, PicklingError)
        raise SerializationError(f"Value of type {type(value).__name__} cannot be pickled: {exc}") from exc


def deserialize(data: bytes | memoryview | None) -> Any:
    """Decode bytes written by :func:`serialize`; ``None`` stays ``None``.

    Raises:
        SerializationError: the bytes are not a value Tether wrote, or the pickled class is gone.
    """
    if data is None:
        return None
    raw = bytes(data)
    tag, body = raw[:1], raw[1:]
    try:
        if tag == _PICKLE:
            return pickle.loads(body)
        if tag == _JSON:
            return json.loads(body)
    except Exception as exc:
        raise SerializationError(f"Stored value cannot be decoded: {exc}") from exc
    raise SerializationError(f"Stored value has unknown format tag {tag!r}")


def is_portable(data: bytes | memoryview | None) -> bool:
    """True when stored bytes are in the JSON format (safe to hand to any client)."""
    return data is not None and bytes(data[:1]) == _JSON


def serialize_error(exc: BaseException, fmt: WorkflowSerializationFormat | str | None = None) -> bytes:
    """Encode an exception; falls back to a portable description when it cannot be pickled."""
    fmt = WorkflowSerializationFormat(fmt) if fmt is not None else WorkflowSerializationFormat.DEFAULT
    if fmt is WorkflowSerializationFormat.DEFAULT:
        try:
            data = _PICKLE + pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(data[1:])  # an exception class with a custom __init__ may not round-trip
            return data
        except Exception:
            pass
    return serialize({"__error__": {"type": type(exc).__name__, "message": str(exc)}},
                     WorkflowSerializationFormat.PORTABLE)


class RemoteError(Exception):
    """An error recorded in portable form (its Python class could not be restored)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message


def deserialize_error(data: bytes | memoryview | None) -> BaseException | None:
    """Decode an error written by :func:`serialize_error`."""
    value = deserialize(data)
    if value is None or isinstance(value, BaseException):
        return value
    if isinstance(value, dict) and "__error__" in value:
        info = value["__error__"]
        return RemoteError(str(info.get("type")), str(info.get("message")))
    return RemoteError("Error", repr(value))
