"""How statements and values cross the wire to PostgreSQL (``wire.py``): named statements rewritten to libpq's
``$n`` placeholders, parameters encoded as libpq takes them (text, ``bytes`` binary), and binary result columns
decoded for the few types the schema uses."""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Iterable, Mapping
from typing import Any

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


class PreparedQuery:
    """A named statement rewritten from ``:name`` to ``$n``, with the order its parameters go in."""

    __slots__ = ("_pick", "names", "sql", "statement")

    def __init__(self, statement: str, sql: str) -> None:
        order: list[str] = []

        def number(m: re.Match[str]) -> str:
            if m.group(1) not in order:
                order.append(m.group(1))
            return f"${order.index(m.group(1)) + 1}"

        self.sql = _NAMED.sub(number, sql).encode()
        self.names = tuple(order)
        self.statement = statement.encode()
        # all of a statement's parameters from a mapping in one C call (map(params.get, names) was 3x that)
        self._pick = operator.itemgetter(*order) if len(order) > 1 else None

    def ordered(self, params: Mapping[str, Any]) -> Iterable[Any]:
        """The values of ``params`` in the statement's order; a parameter left out is NULL."""
        if self._pick is not None:
            try:
                return self._pick(params)  # type: ignore[no-any-return]
            except KeyError:
                pass
        return map(params.get, self.names)


def positional(sql: str) -> bytes:
    """``?`` placeholders (dynamic SQL from the shared store logic) to ``$n``."""
    n = 0

    def number(_: re.Match[str]) -> str:
        nonlocal n
        n += 1
        return f"${n}"

    return re.sub(r"\?", number, sql).encode()


def encode(params: Iterable[Any]) -> tuple[list[bytes | None], list[int] | None]:
    """Parameters as libpq takes them: text, except ``bytes`` (binary). The formats are None when every
    parameter is text (libpq's default), which spares building a second list per statement."""
    values: list[bytes | None] = []
    add = values.append
    binary: list[int] | None = None
    for p in params:
        kind = type(p)
        if p is None:
            add(None)
        elif kind is str:
            add(p.encode())
        elif kind is int:
            add(b"%d" % p)
        elif isinstance(p, (bytes, bytearray, memoryview)):
            if binary is None:
                binary = []
            binary.append(len(values))
            add(p if type(p) is bytes else bytes(p))
        elif isinstance(p, bool):
            add(b"t" if p else b"f")
        else:
            add(str(p).encode())
    if binary is None:
        return values, None
    formats = [0] * len(values)
    for i in binary:
        formats[i] = 1
    return values, formats


_INT = {20: struct.Struct("!q"), 21: struct.Struct("!h"), 23: struct.Struct("!i"), 26: struct.Struct("!I")}
_FLOAT = {700: struct.Struct("!f"), 701: struct.Struct("!d")}


def decoder(oid: int) -> Any:
    if oid in _INT:
        unpack = _INT[oid].unpack
        return lambda b: unpack(b)[0]
    if oid in _FLOAT:
        unpackf = _FLOAT[oid].unpack
        return lambda b: unpackf(b)[0]
    if oid == 16:
        return lambda b: b == b"\x01"
    if oid == 17:
        return bytes
    return lambda b: bytes(b).decode()
