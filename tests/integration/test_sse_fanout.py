"""Many SSE readers of one stream over a real socket (uvicorn on a thread), both backends: every reader gets
every value once and in order -- those there from the start, those joining mid-stream (from the shared feed's
window or, further behind, from the database) and one resuming with Last-Event-ID -- and a reader that stops
reading holds up nobody, then still gets everything."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tether import DBOS
from tether.http import StreamFanout, create_gateway
from tether.http.server import ServerThread
from tether.http.sse_client import SSEParser

from .test_http_gateway import CMD, start_driven
from .test_http_socket import SSE, Reader, sync, write


@pytest.fixture
def small_window(dbos: type[DBOS]) -> Iterator[ServerThread]:
    """A gateway whose followed streams keep only their last 3 values."""
    with ServerThread(create_gateway(DBOS, insecure=True, fanout=StreamFanout(window_values=3))) as server:
        yield server


def read_to_end(reader: Reader) -> tuple[list[tuple[str | None, object]], object]:
    """Every value event (id, value) until ``end``, and the end's data."""
    got: list[tuple[str | None, object]] = []
    while True:
        event = reader.next()
        if event.event == "end":
            return got, event.json()
        got.append((event.id, event.json()))


def test_many_readers_each_get_every_value_once_in_order(small_window: ServerThread) -> None:
    w = start_driven()
    url = f"/workflows/{w}/streams/s"
    with httpx.Client(base_url=small_window.url, timeout=30) as http:
        readers = [Reader(http, url, headers=SSE) for _ in range(12)]  # there from the start
        try:
            write(w, 0)
            assert [r.next().json() for r in readers] == [0] * 12  # all following the stream now
            for i in range(1, 10):
                write(w, i)
            sync(http, w)
            late = {  # joining mid-stream, 10 values written, the feed keeps 7, 8, 9
                "from 0 (database, then window)": Reader(http, url, headers=SSE),
                "from 8 (window)": Reader(http, url, params={"offset": 8}, headers=SSE),
                "after Last-Event-ID 4": Reader(http, url, headers={**SSE, "Last-Event-ID": "4"}),
                "ahead, from 12": Reader(http, url, params={"offset": 12}, headers=SSE),
            }
            for i in range(10, 15):
                write(w, i)
            assert http.get("/health").json()["streams_followed"] == 1  # one database follower for them all
            DBOS.send(w, {"op": "close"}, CMD)
            expected = [(str(i), i) for i in range(15)]
            for reader in readers:
                assert read_to_end(reader) == (expected[1:], {"next_offset": 15})
            starts = {"from 0 (database, then window)": 0, "from 8 (window)": 8, "after Last-Event-ID 4": 5,
                      "ahead, from 12": 12}
            for name, reader in late.items():
                assert read_to_end(reader) == (expected[starts[name]:], {"next_offset": 15}), name
        finally:
            for reader in [*readers, *late.values()]:
                reader.close()


def test_a_first_reader_far_ahead_does_not_leave_later_readers_following_alone(small_window: ServerThread
                                                                              ) -> None:
    """The first reader of a stream asks for an offset it has not reached (the shared feed starts there); the
    readers that come next, from the start, share that one database follower once it has moved back to them,
    rather than each following alone."""
    w = start_driven()
    url = f"/workflows/{w}/streams/s"
    with httpx.Client(base_url=small_window.url, timeout=30) as http:
        far = Reader(http, url, params={"offset": 1_000_000}, headers=SSE)
        readers: list[Reader] = []
        try:
            assert http.get("/health").json()["streams_followed"] == 1
            write(w, 0)
            sync(http, w)
            readers = [Reader(http, url, headers=SSE) for _ in range(5)]
            assert [r.next().json() for r in readers] == [0] * 5
            for i in range(1, 6):
                write(w, i)
            assert http.get("/health").json()["streams_followed"] == 1  # one database follower for them all
            DBOS.send(w, {"op": "close"}, CMD)
            expected = [(str(i), i) for i in range(6)]
            for reader in readers:
                assert read_to_end(reader) == (expected[1:], {"next_offset": 6})
            assert read_to_end(far)[0] == []  # nothing that far; it is told the stream ended
        finally:
            for reader in [far, *readers]:
                reader.close()


class StalledReader:
    """A raw connection with a small receive buffer that reads only when told to, so the server's writes to
    it back up while it does not."""

    def __init__(self, server: ServerThread, path: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(60)
        self.sock.connect(("127.0.0.1", server.port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.raw = b""

    def read_until(self, marker: bytes) -> None:
        while marker not in self.raw:
            data = self.sock.recv(1 << 16)
            assert data, "the server closed the connection"
            self.raw += data

    def events(self) -> list[tuple[str | None, object]]:
        """The value events received so far, up to the end event, which must have come."""
        head, _, body = self.raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
        text = b""
        while body:  # undo the chunked transfer coding
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line, 16)
            text, body = text + body[:size], body[size + 2:]
        events = SSEParser().feed(text.decode())
        assert events[-1].event == "end"
        return [(e.id, e.json()) for e in events[:-1]]

    def close(self) -> None:
        self.sock.close()


def test_a_reader_that_stops_reading_holds_up_nobody_and_still_gets_everything(small_window: ServerThread
                                                                                ) -> None:
    w = start_driven()
    url = f"/workflows/{w}/streams/s"
    big = "x" * 128_000  # 50 values of 128 kB: more than the stalled connection's buffers hold (4 MB at most)
    with httpx.Client(base_url=small_window.url, timeout=30) as http:
        stalled = StalledReader(small_window, url)
        fast = [Reader(http, url, headers=SSE) for _ in range(3)]
        try:
            write(w, "first")
            stalled.read_until(b"id: 0\n")  # it is at the head with the others; from now on it reads nothing
            assert [r.next().json() for r in fast] == ["first"] * 3
            for i in range(50):
                write(w, {"i": i, "big": big})
            DBOS.send(w, {"op": "close"}, CMD)
            expected = [(str(i + 1), {"i": i, "big": big}) for i in range(50)]
            for r in fast:  # they get everything while the stalled reader reads nothing
                assert read_to_end(r) == (expected, {"next_offset": 51})
            stalled.read_until(b"\r\n0\r\n\r\n")  # then it reads to the response's end: everything, once, in order
            assert stalled.events() == [("0", "first"), *expected]
        finally:
            stalled.close()
            for r in fast:
                r.close()


class BodyRecorder:
    """ASGI middleware a user might add to the gateway: it keeps every response body chunk sent through it."""

    def __init__(self, app: ASGIApp, seen: list[bytes]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.seen.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording)


def test_middleware_added_to_the_gateway_sees_every_value_a_live_reader_gets(dbos: type[DBOS]) -> None:
    """A live reader's values skip the gateway's own layers (they look only at a response's start); one that
    a user adds to the returned app still sees them all."""
    seen: list[bytes] = []
    gateway = create_gateway(DBOS, insecure=True)
    gateway.add_middleware(BodyRecorder, seen=seen)
    with ServerThread(gateway) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        w = start_driven()
        reader = Reader(http, f"/workflows/{w}/streams/s", headers=SSE)
        try:
            write(w, 0)
            assert reader.next().json() == 0  # following live from here on: later values come from the feed
            for i in range(1, 4):
                write(w, i)
            DBOS.send(w, {"op": "close"}, CMD)
            assert read_to_end(reader) == ([(str(i), i) for i in range(1, 4)], {"next_offset": 4})
        finally:
            reader.close()
    text = b"".join(seen).decode()
    assert all(f"id: {i}\n" in text for i in range(4)), text
