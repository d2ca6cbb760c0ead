"""Turning values stored by DBOS 3.4 into Tether's stored form, without running any of them (pure functions).

DBOS stores each value as text with the name of its serializer beside it (a ``serialization`` column):

- ``py_pickle`` (and no name, DBOS's default serializer): base64 of a pickle. Tether keeps the pickle's bytes
  (``P`` + pickle), never unpickling it here: the classes it names belong to the application. A pickle that
  names one of DBOS's own classes (``dbos._error.DBOSMaxStepRetriesExceeded``, ``dbos.KafkaMessage``, ...)
  is re-pointed at the class of the same name in :mod:`tether.error` (or where Tether has it), so that
  Tether reads it without DBOS installed and ``except`` clauses written for DBOS's classes still catch it.
- ``portable_json``: JSON text, kept as JSON (``J`` + text). Workflow inputs change shape (DBOS's
  ``positionalArgs``/``namedArgs`` become Tether's ``args``/``kwargs``); portable errors keep DBOS's
  ``name``/``message``/``code``/``data`` object, which Tether reads as a ``PortableWorkflowError``.
- any other name (an application's own ``Serializer``): kept as ``C`` + name + newline + text, which Tether
  decodes when the application configures that serializer.
"""

from __future__ import annotations

import base64
import binascii
import json
import pickletools
from dataclasses import dataclass

import tether.error as dbos_names

PICKLE_NAME = "py_pickle"
PORTABLE_NAME = "portable_json"
STREAM_CLOSED = '"__DBOS_STREAM_CLOSED__"'  # DBOS's close mark: the portable JSON string, as stored


class ValueConversionError(ValueError):
    """A stored DBOS value is not in the form its serializer name says (not base64, not JSON)."""


@dataclass(frozen=True)
class Converted:
    """A value in Tether's stored form, and the DBOS classes its pickle named that Tether has no class for."""

    data: bytes | None
    unmapped: frozenset[str] = frozenset()


def convert_value(text: str | None, serialization: str | None) -> Converted:
    """A DBOS-stored value (an output, a message, an event, a stream value) in Tether's form.

    Raises:
        ValueConversionError: ``text`` is not valid for its serializer.
    """
    if text is None:
        return Converted(None)
    if serialization == PORTABLE_NAME:
        return Converted(b"J" + _valid_json(text).encode())
    if serialization in (None, "", PICKLE_NAME):
        return _pickle(text)
    return Converted(b"C" + f"{serialization}\n{text}".encode())


def convert_inputs(text: str | None, serialization: str | None) -> Converted:
    """A workflow's stored arguments in Tether's form (``{"args": ..., "kwargs": ...}``).

    Raises:
        ValueConversionError: ``text`` is not valid for its serializer.
    """
    if text is not None and serialization == PORTABLE_NAME:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ValueConversionError(f"portable inputs are not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise ValueConversionError("portable inputs are not a JSON object")
        args = value.get("positionalArgs") or []
        kwargs = value.get("namedArgs") or {}
        return Converted(b"J" + json.dumps({"args": args, "kwargs": kwargs}, separators=(",", ":")).encode())
    return convert_value(text, serialization)  # a pickled {"args": tuple, "kwargs": dict}: the same shape


def convert_sleep(text: str | None, serialization: str | None) -> bytes | None:
    """A ``DBOS.sleep`` checkpoint's wake-up time: DBOS stores epoch seconds (a float), Tether epoch
    milliseconds (an int), here as JSON so any serializer configuration reads it.

    Raises:
        ValueConversionError: the value is not a number in portable JSON (DBOS always writes it so).
    """
    if text is None:
        return None
    if serialization != PORTABLE_NAME:
        raise ValueConversionError(f"a DBOS.sleep checkpoint in format {serialization!r}")
    try:
        seconds = json.loads(text)
    except ValueError as exc:
        raise ValueConversionError(f"a DBOS.sleep checkpoint is not JSON: {exc}") from exc
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise ValueConversionError("a DBOS.sleep checkpoint is not a number")
    return b"J" + str(round(seconds * 1000)).encode()


def is_stream_close(text: str | None, serialization: str | None) -> bool:
    """Whether a DBOS stream row is the mark that closes its stream."""
    return serialization == PORTABLE_NAME and text == STREAM_CLOSED


def _valid_json(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        raise ValueConversionError(f"a portable value is not JSON: {exc}") from exc
    return text


def _pickle(text: str) -> Converted:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueConversionError(f"a pickled value is not base64: {exc}") from exc
    if b"dbos" not in raw:  # the common case: nothing of DBOS's inside, keep the bytes as they are
        return Converted(b"P" + raw)
    rewritten, unmapped = repoint_dbos_classes(raw)
    return Converted(b"P" + rewritten, unmapped)


_ELSEWHERE = {"KafkaMessage": "tether.engine.kafka"}
"""DBOS's classes of values (not errors) that Tether has under the same name, and where."""


def tether_class_module(module: str, name: str) -> str | None:
    """The module of Tether's class of DBOS's class ``module.name`` (``tether.error`` for errors), or None
    when Tether has no class of that name."""
    if module != "dbos" and not module.startswith("dbos."):
        return None
    if name in _ELSEWHERE:
        return _ELSEWHERE[name]
    return "tether.error" if isinstance(getattr(dbos_names, name, None), type) else None


def repoint_dbos_classes(raw: bytes) -> tuple[bytes, frozenset[str]]:
    """Rewrite a pickle so that each class it names from DBOS's package is looked up in Tether instead,
    reading opcodes only (nothing is unpickled): a ``STACK_GLOBAL`` naming ``dbos...X`` becomes two ``POP``s
    and a ``GLOBAL`` of ``tether.error X``, so memo numbering is untouched. Returns the new pickle and the
    DBOS classes left as they were (Tether has no class of that name; reading them needs DBOS installed).

    Raises:
        ValueConversionError: the bytes are not a pickle.
    """
    try:
        ops = list(pickletools.genops(raw))
    except Exception as exc:  # genops raises ValueError and others on malformed data
        raise ValueConversionError(f"a pickled value is malformed: {exc}") from exc
    replace: dict[int, bytes] = {}  # op position -> new encoding
    unmapped: set[str] = set()
    memo: dict[int, str | None] = {}
    stack: list[str | None] = []  # the last values pushed, where known to be strings
    for op, arg, at in ops:
        pos = at or 0
        name = op.name
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            stack.append(str(arg))
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1] if stack else None
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(str(arg))] = stack[-1] if stack else None
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            stack.append(memo.get(int(str(arg))))
        elif name == "FRAME":
            pass
        elif name == "STACK_GLOBAL" and len(stack) >= 2 and stack[-1] is not None and stack[-2] is not None:
            module, cls = str(stack[-2]), str(stack[-1])
            target = tether_class_module(module, cls)
            if target is not None:
                replace[pos] = b"00c" + f"{target}\n{cls}\n".encode()
            elif module == "dbos" or module.startswith("dbos."):
                unmapped.add(f"{module}.{cls}")
            stack = [None]
        elif name == "GLOBAL":
            module, _, cls = str(arg).partition(" ")
            target = tether_class_module(module, cls)
            if target is not None:
                replace[pos] = b"c" + f"{target}\n{cls}\n".encode()
            elif module == "dbos" or module.startswith("dbos."):
                unmapped.add(f"{module}.{cls}")
            stack = [None]
        else:
            stack = [None]
    if not replace:
        return raw, frozenset(unmapped)
    out = bytearray()
    starts = [at or 0 for _, _, at in ops]
    for op, start, end in zip((o for o, _, _ in ops), starts, [*starts[1:], len(raw)], strict=True):
        if op.name == "FRAME":
            continue  # frames are optional; their lengths would be wrong after a rewrite
        out += replace.get(start, raw[start:end])
    return bytes(out), frozenset(unmapped)
