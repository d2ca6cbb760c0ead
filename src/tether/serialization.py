"""Turning values into bytes for the database and back.

Every stored value carries its format in its first byte, so a reader (a client in another language, the HTTP
gateway) can tell a JSON value from a pickle without unpickling anything:

- ``P`` + pickle: ``NATIVE``, and ``DEFAULT`` when no ``serializer`` is configured; any picklable value.
- ``J`` + UTF-8 JSON: ``PORTABLE``, for values that cross languages or HTTP (dates, decimals, sets and tuples
  are converted as DBOS's portable JSON does).
- ``C`` + UTF-8 text: ``DEFAULT`` written by an application's own :class:`Serializer` (the ``serializer``
  config key); the serializer's ``name()`` comes first, then a newline, then its text.

A configured ``DBOSPortableJSONSerializer`` writes ``J`` values, readable everywhere.
"""

from __future__ import annotations

import json
import logging
import pickle
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from tether.errors import SerializationError
from tether.types import WorkflowSerializationFormat

_log = logging.getLogger("tether")
_PICKLE = b"P"
_JSON = b"J"
_CUSTOM = b"C"


class Serializer(ABC):
    """An application's own way of storing values (DBOS's ``Serializer``): text in, text out."""

    @abstractmethod
    def serialize(self, data: Any) -> str:
        """Encode a value as text."""

    @abstractmethod
    def deserialize(self, serialized_data: str) -> Any:
        """Decode text written by :meth:`serialize`."""

    def name(self) -> str:
        """The name stored with each value, so a reader knows which serializer wrote it."""
        return "custom_serializer"


def portable(value: Any) -> Any:
    """``value`` as plain JSON types: datetimes as RFC 3339 UTC, dates ISO, decimals as strings, sets and
    tuples as lists.

    Raises:
        TypeError: a value (or a mapping key) has no portable form.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple | set | frozenset):
        return [portable(v) for v in value]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("a mapping with non-string keys has no portable JSON form")
            out[k] = portable(v)
        return out
    raise TypeError(f"Object of type {type(value).__name__} is not portable JSON serializable")


class DBOSPortableJSONSerializer(Serializer):
    """DBOS's portable JSON serializer; as the ``serializer`` config key, values are stored as JSON."""

    def name(self) -> str:
        return "portable_json"

    # The parameters are named as DBOS names them here (``value``, ``text``), for callers that pass them by name.
    def serialize(self, value: Any) -> str:
        return json.dumps(portable(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    def deserialize(self, text: str | None) -> Any:
        return None if text is None else json.loads(text)


class PortableWorkflowError(Exception):
    """An error recorded in portable form (its Python class could not be stored or restored here):
    ``name`` is its type's name, ``message`` its text, ``code`` and ``data`` what it carried."""

    def __init__(self, message: str, name: str = "Error", code: int | str | None = None,
                 data: Any = None) -> None:
        super().__init__(message, name, code, data)
        self.message = message
        self.name = name
        self.code = code
        self.data = data

    @property
    def type_name(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.message


RemoteError = PortableWorkflowError  # the name Tether used before


@dataclass(frozen=True)
class UndecodableValue:
    """Stands, in a listing, for a stored value this process cannot decode (a pickled class it does not have,
    a serializer it is not configured with). ``reason`` says why; ``raw`` is the stored bytes."""

    reason: str
    raw: bytes = field(repr=False)

    def __str__(self) -> str:
        return f"<undecodable: {self.reason}>"


def decode_or_mark(data: bytes | memoryview | None, what: str, workflow_id: str) -> Any:
    """:func:`deserialize`, but a value that cannot be decoded here comes back as an :class:`UndecodableValue`
    (and a warning is logged) instead of failing the whole listing."""
    try:
        return deserialize(data)
    except SerializationError as exc:
        _log.warning("The %s of workflow %s cannot be decoded here: %s", what, workflow_id, exc)
        return UndecodableValue(str(exc), bytes(data or b""))


def decode_error_or_mark(data: bytes | memoryview | None, workflow_id: str) -> BaseException | None:
    """:func:`deserialize_error`, but an error that cannot be decoded here comes back as a
    :class:`PortableWorkflowError` named ``UndecodableError`` whose message says why."""
    try:
        return deserialize_error(data)
    except SerializationError as exc:
        _log.warning("The error of workflow %s cannot be decoded here: %s", workflow_id, exc)
        return PortableWorkflowError(f"<undecodable: {exc}>", "UndecodableError")


_custom: Serializer | None = None


def set_default_serializer(serializer: Serializer | None) -> None:
    """The serializer ``DEFAULT`` values use in this process (the ``serializer`` config key), or None for
    pickle. Set by ``DBOS.launch()`` and by a ``DBOSClient`` given one."""
    global _custom
    _custom = serializer


# Read once: a member looked up on its Enum class goes through EnumType.__getattr__ (several per checkpoint).
_DEFAULT = WorkflowSerializationFormat.DEFAULT
_PORTABLE = WorkflowSerializationFormat.PORTABLE


def _effective(fmt: WorkflowSerializationFormat | str | None) -> WorkflowSerializationFormat:
    if fmt is None:
        chosen = _DEFAULT
    elif type(fmt) is WorkflowSerializationFormat:  # most calls: no Enum lookup by value (a slow call)
        chosen = fmt
    else:
        chosen = WorkflowSerializationFormat(fmt)
    # _custom first: isinstance against an ABC (Serializer's subclass) is a slow call even for None
    if (chosen is _DEFAULT and _custom is not None
            and isinstance(_custom, DBOSPortableJSONSerializer)):
        return _PORTABLE
    return chosen


def format_name(fmt: WorkflowSerializationFormat | str | None) -> str:
    """The name of the serializer that writes values in ``fmt`` here (stored on each workflow)."""
    chosen = _effective(fmt)
    if chosen is _PORTABLE:
        return "portable_json"
    if chosen is _DEFAULT and _custom is not None:
        return _custom.name()
    return "py_pickle"


def serialize(value: Any, fmt: WorkflowSerializationFormat | str | None = None) -> bytes:
    """Encode ``value`` in ``fmt`` (default: the configured serializer, else pickle).

    Raises:
        SerializationError: the value cannot be encoded in that format.
    """
    chosen = _effective(fmt)
    if chosen is _PORTABLE:
        try:
            return _JSON + json.dumps(portable(value), separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise SerializationError(f"Value of type {type(value).__name__} is not JSON-serializable: {exc}") from exc
    if chosen is _DEFAULT and _custom is not None:
        try:
            return _CUSTOM + f"{_custom.name()}\n{_custom.serialize(value)}".encode()
        except Exception as exc:  # whatever the application's serializer raises
            raise SerializationError(f"Serializer {_custom.name()!r} cannot encode a "
                                     f"{type(value).__name__}: {exc}") from exc
    try:
        return _PICKLE + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # pickle raises many types (TypeError, AttributeError, PicklingError)
        raise SerializationError(f"Value of type {type(value).__name__} cannot be pickled: {exc}") from exc


def deserialize(data: bytes | memoryview | None) -> Any:
    """Decode bytes written by :func:`serialize`; ``None`` stays ``None``.

    Raises:
        SerializationError: the bytes are not a value Tether wrote, the pickled class is gone, or the value was
            written by a serializer this process does not have.
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
        if tag == _CUSTOM:
            name, _, text = body.decode().partition("\n")
            if _custom is None or _custom.name() != name:
                raise SerializationError(f"Stored value was written by serializer {name!r}, which is not "
                                         "configured in this process")
            return _custom.deserialize(text)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(f"Stored value cannot be decoded: {exc}") from exc
    raise SerializationError(f"Stored value has unknown format tag {tag!r}")


def is_portable(data: bytes | memoryview | None) -> bool:
    """True when stored bytes are in the JSON format (safe to hand to any client)."""
    return data is not None and bytes(data[:1]) == _JSON


def _error_code(exc: BaseException) -> int | str | None:
    for attr in ("code", "error_code", "errno", "status", "status_code", "dbos_error_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int | str) and not isinstance(value, bool):
            return value
    return None


def _error_data(exc: BaseException) -> Any:
    for attr in ("data", "details", "payload"):
        value = getattr(exc, attr, None)
        if value is None or callable(value):
            continue
        try:
            return portable(value)
        except TypeError:
            return str(value)  # no portable form: keep what it says
    return None


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


def serialize_error(exc: BaseException, fmt: WorkflowSerializationFormat | str | None = None) -> bytes:
    """Encode an exception: pickled where the format allows and it round-trips, else in portable form
    (name, message, code, data), which never fails."""
    chosen = _effective(fmt)
    if chosen is not WorkflowSerializationFormat.PORTABLE:
        try:
            data = _PICKLE + pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(data[1:])  # an exception class with a custom __init__ may not round-trip
            return data
        except Exception:
            pass
    record = {"name": type(exc).__name__, "message": _safe_str(exc), "code": _error_code(exc),
              "data": _error_data(exc)}
    return _JSON + json.dumps({"__error__": record}, separators=(",", ":")).encode()


def deserialize_error(data: bytes | memoryview | None) -> BaseException | None:
    """Decode an error written by :func:`serialize_error` (a portable one as :class:`PortableWorkflowError`).

    Raises:
        SerializationError: the bytes cannot be decoded in this process.
    """
    value = deserialize(data)
    if value is None or isinstance(value, BaseException):
        return value
    if isinstance(value, dict) and isinstance(value.get("__error__"), dict):
        info = value["__error__"]
        return PortableWorkflowError(str(info.get("message")), str(info.get("name", info.get("type", "Error"))),
                                     info.get("code"), info.get("data"))
    if isinstance(value, dict) and "name" in value and "message" in value:  # DBOS's portable error shape
        return PortableWorkflowError(str(value["message"]), str(value["name"]), value.get("code"),
                                     value.get("data"))
    return PortableWorkflowError(repr(value), "Error")
