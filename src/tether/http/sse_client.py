"""Reading Server-Sent Events on the client side (used by the tests, the bench and scripts in Python)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: ``event`` is ``"message"`` unless named; ``id`` is None when the event set none."""

    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        """The data parsed as JSON.

        Raises:
            ValueError: the data is not JSON.
        """
        return json.loads(self.data)


class SSEParser:
    """Incremental parser: feed it text as it arrives, get the complete events out (comments are dropped)."""

    def __init__(self) -> None:
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, text: str) -> list[SSEEvent]:
        self._buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        out: list[SSEEvent] = []
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if line == "":
                if self._data:
                    out.append(SSEEvent(self._event or "message", "\n".join(self._data), self._id))
                self._event, self._data, self._id = "", [], None
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                self._id = value
        return out


def parse_sse(chunks: Iterable[str]) -> Iterator[SSEEvent]:
    """Events from an iterable of text chunks (for example ``httpx.Response.iter_text()``)."""
    parser = SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
