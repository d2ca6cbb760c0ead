"""Server-Sent Events for streams, shared by many readers.

Each SSE event carries one stream value: its ``id`` is the value's offset and its ``data`` the value as JSON. A
reader that reconnects sends ``Last-Event-ID``, and the server resumes at that offset + 1, so a dropped
connection loses and repeats nothing. Other event types::

    event: unrepresentable   a value with no JSON form (data: an error marker; the id still advances)
    event: end               the stream is closed (data: {"next_offset": n}); no more events follow
    event: failure           the stream could not be read (data: {"error": ..., "detail": ...})
    : keepalive              a comment, sent when nothing else was sent for a while

Readers of one stream in one process share a single follower (:class:`StreamFanout`): the database is read
once per batch of new values, whatever the number of readers; each value is framed once, and the same bytes
are written to every reader that is at the head of the stream, by the follower itself (no task of the reader's
is woken per value; see :mod:`tether.http.sse_response`). The follower keeps the last values it read (a bounded
window); a reader behind it (it joined with an earlier offset, resumed with ``Last-Event-ID``, or was too slow
to take a value when it was written) catches up on its own from the window, or from the database when it is
behind the window, then rejoins the head. So every reader gets every value once and in order, a slow reader
never holds up the others, and memory does not grow with a reader's lag.

The frames are a few lines of text (JSON has no raw newline), so they are built here rather than with an SSE
library: the libraries' streaming responses are per-connection machinery (a task and a timer per reader),
which is the cost this module exists to avoid.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from tether.engine.validation import count
from tether.errors import InvalidArgumentError
from tether.http.api import WorkflowAPI
from tether.http.encoding import NotJSONError, dumps, marker

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 1000
WINDOW_VALUES = 1024
"""At most this many recent values are kept per followed stream for readers that are behind the head."""
WINDOW_BYTES = 8 * 1024 * 1024
"""... and at most this many bytes of them (the newest value is always kept)."""
KEEPALIVE_FRAME = b": keepalive\n\n"
WRITE_BYTES = 64 * 1024
"""Frames are written in pieces of about this size (a piece holds at least one frame), so a reader's socket
buffers about this much beyond what the server keeps for its connection anyway."""


@dataclass(frozen=True)
class Item:
    """One encoded stream value: SSE event name (``None`` = the default ``message``) and JSON data."""

    event: str | None
    data: str


def encode_value(value: Any) -> Item:
    try:
        return Item(None, dumps(value))
    except NotJSONError as exc:
        return Item("unrepresentable", dumps(marker(exc)))


def format_event(offset: int | None, item: Item) -> str:
    lines = []
    if offset is not None:
        lines.append(f"id: {offset}")
    if item.event is not None:
        lines.append(f"event: {item.event}")
    lines.append(f"data: {item.data}")
    return "\n".join(lines) + "\n\n"


def frame(offset: int | None, item: Item) -> bytes:
    """The SSE event of ``item`` as the bytes written to the socket."""
    return format_event(offset, item).encode()


def end_frame(next_offset: int) -> bytes:
    return frame(None, Item("end", dumps({"next_offset": next_offset})))


class Listener(Protocol):
    """A reader parked at the head of a feed: the feed writes new frames to it with ``push`` (the frames up to
    offset ``head``; False when the reader could not take them at once: they are on their way, but it must go
    on by itself) and ``detach`` wakes it to go on by itself."""

    def push(self, data: bytes, head: int) -> bool: ...

    def detach(self) -> None: ...


class Feed:
    """Follows one stream from ``base``, keeps a window of the values it read, and writes each batch of new
    values to the readers at its head."""

    def __init__(self, api: WorkflowAPI, workflow_id: str, key: str, base: int, fanout: StreamFanout) -> None:
        self.api = api
        self.workflow_id = workflow_id
        self.key = key
        self.base = base  # offset of frames[0]
        self.head = base  # offset after the last value written to the readers at the head
        self.frames: list[bytes] = []
        self.window_bytes = 0
        self.end: bytes | None = None  # the stream is closed (end event) or could not be read (failure event)
        self.failed = False
        self.readers = 0
        self.live: set[Listener] = set()  # parked at ``head``: written to by the feed itself
        self._loop = asyncio.get_running_loop()
        self._unsent: list[bytes] = []
        self._stopped = False
        self._changed: asyncio.Future[None] = self._loop.create_future()
        self._keepalive_seconds = fanout.keepalive_seconds
        self._window = (fanout.window_values, fanout.window_bytes)
        self._keepalive = self._loop.call_later(self._keepalive_seconds, self._send_keepalive)
        self.task = self._loop.create_task(self._follow())

    async def _follow(self) -> None:
        try:
            offset = self.base
            unsent_bytes = 0
            async for value in self.api.read_stream_async(self.workflow_id, self.key, offset=self.base):
                data = frame(offset, encode_value(value))
                offset += 1
                if not self._unsent:  # values of one read arrive without a pause: one write for them all
                    self._loop.call_soon(self._flush)
                    unsent_bytes = 0
                self._unsent.append(data)
                unsent_bytes += len(data)
                if unsent_bytes >= WRITE_BYTES:
                    self._flush()
            self._flush()
            self.end = end_frame(self.head)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a storage or decoding failure ends this feed; readers are told why
            self._flush()
            self.failed = True
            self.end = frame(None, Item("failure", dumps({"error": type(exc).__name__, "detail": str(exc)})))
        self._keepalive.cancel()
        live, self.live = self.live, set()
        for reader in live:  # each sends the end itself
            reader.detach()
        self._changed_now()

    def _flush(self) -> None:
        """Add the values read since the last flush to the window and write them to every reader at the head."""
        if not self._unsent or self._stopped:  # nothing new, or stopped since the flush was planned
            return
        new, self._unsent = self._unsent, []
        self.frames.extend(new)
        self.head += len(new)
        self.window_bytes += sum(len(f) for f in new)
        self._trim()
        self._write(new[0] if len(new) == 1 else b"".join(new))
        self._changed_now()

    def _trim(self) -> None:
        drop, size = 0, self.window_bytes
        most_values, most_bytes = self._window
        while drop < len(self.frames) - 1 and (len(self.frames) - drop > most_values or size > most_bytes):
            size -= len(self.frames[drop])
            drop += 1
        if drop:
            del self.frames[:drop]
            self.base += drop
            self.window_bytes = size

    def _write(self, data: bytes) -> None:
        self._keepalive.cancel()
        self._keepalive = self._loop.call_later(self._keepalive_seconds, self._send_keepalive)
        head = self.head
        behind = [reader for reader in self.live if not reader.push(data, head)]
        for reader in behind:  # it took the frames (they are on their way), but it goes on by itself
            self.live.discard(reader)
            reader.detach()

    def _send_keepalive(self) -> None:
        self._write(KEEPALIVE_FRAME)

    def _changed_now(self) -> None:
        changed, self._changed = self._changed, self._loop.create_future()
        changed.set_result(None)

    def since(self, offset: int) -> tuple[bytes, int]:
        """The frames from ``offset`` (``base <= offset < head``) on, about :data:`WRITE_BYTES` of them (at
        least one), and the offset after them."""
        start = offset - self.base
        end, size = start + 1, len(self.frames[start])
        while end < len(self.frames) and size + len(self.frames[end]) <= WRITE_BYTES:
            size += len(self.frames[end])
            end += 1
        return b"".join(self.frames[start:end]), self.base + end

    @property
    def changed(self) -> asyncio.Future[None]:
        """Resolved when the head next moves or the feed ends (for a reader ahead of the head; readers at the
        head are written to without waking)."""
        return self._changed

    def rebase(self, offset: int) -> bool:
        """Follow from ``offset`` instead, if it comes before where this feed started and the feed has read
        nothing yet (its first reader asked for an offset the stream has not reached); readers waiting at the
        old start go on waiting ahead of the head. False, changing nothing, otherwise.

        So a reader asking for a far offset first does not leave every later reader of the stream to follow
        it alone from the database.
        """
        if offset >= self.base or self.frames or self._unsent or self.head != self.base or self.end is not None:
            return False
        self.task.cancel()  # it has read nothing: its next step raises CancelledError
        self.base = self.head = offset
        live, self.live = self.live, set()
        for reader in live:  # parked at the old start, now ahead of the head
            reader.detach()
        self.task = self._loop.create_task(self._follow())
        self._changed_now()
        return True

    def stop(self) -> None:
        self._stopped = True
        self._keepalive.cancel()
        self.task.cancel()


class StreamFanout:
    """The followers of the streams being read through this server (one per stream, per event loop).

    ``keepalive_seconds``: a comment is sent to a reader after this long without anything else.
    ``window_values``, ``window_bytes``: how many of the latest values (and bytes of them) each followed stream
    keeps for readers behind its head; a reader further behind reads from the database.
    """

    def __init__(self, keepalive_seconds: float = KEEPALIVE_SECONDS, *, window_values: int = WINDOW_VALUES,
                 window_bytes: int = WINDOW_BYTES) -> None:
        self.keepalive_seconds = keepalive_seconds
        self.window_values = max(1, window_values)
        self.window_bytes = window_bytes
        self._feeds: dict[tuple[int, str, str], Feed] = {}
        self._private: set[Feed] = set()

    def followed(self) -> int:
        """How many database followers of streams run right now (for tests and health checks): one per stream
        read live, and one per reader following alone (its stream ends before the shared feed's start)."""
        return len(self._feeds) + len(self._private)

    def acquire(self, api: WorkflowAPI, workflow_id: str, key: str, offset: int) -> Feed:
        """The shared feed of a stream (started at ``offset`` if nobody follows it); release it when done."""
        ident = (id(api), workflow_id, key)
        feed = self._feeds.get(ident)
        if feed is None or feed.failed:
            feed = Feed(api, workflow_id, key, offset, self)
            self._feeds[ident] = feed
        feed.readers += 1
        return feed

    def private(self, api: WorkflowAPI, workflow_id: str, key: str, offset: int) -> Feed:
        """A feed of one reader, never shared (the stream ends before the shared feed's window starts)."""
        feed = Feed(api, workflow_id, key, offset, self)
        feed.readers = 1
        self._private.add(feed)
        return feed

    def release(self, api: WorkflowAPI, feed: Feed) -> None:
        """One reader fewer; the last one stops the feed."""
        feed.readers -= 1
        ident = (id(api), feed.workflow_id, feed.key)
        if feed.readers <= 0:
            feed.stop()
            self._private.discard(feed)
            if self._feeds.get(ident) is feed:
                del self._feeds[ident]


def resume_offset(offset: int, last_event_id: str | None) -> int:
    """Where a reader starts: after ``Last-Event-ID`` when the browser reconnects, else at ``offset``.

    Raises:
        InvalidArgumentError: ``Last-Event-ID`` is not an integer from 0 to 2**63 - 2.
    """
    if last_event_id is None or last_event_id.strip() == "":
        return offset
    text = last_event_id.strip()
    if len(text) > 19 or not text.isdigit() or not text.isascii():
        raise InvalidArgumentError("Last-Event-ID", f"must be a stream offset (an integer from 0 to 2**63 - 2), "
                                                    f"not {text[:40]!r}")
    return count(int(text) + 1, "Last-Event-ID")
