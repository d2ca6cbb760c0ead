"""Server-Sent Events for streams, shared by many readers.

Each SSE event carries one stream value: its ``id`` is the value's offset and its ``data`` the value as JSON. A
reader that reconnects sends ``Last-Event-ID``, and the server resumes at that offset + 1, so a dropped
connection loses and repeats nothing. Other event types::

    event: unrepresentable   a value with no JSON form (data: an error marker; the id still advances)
    event: end               the stream is closed (data: {"next_offset": n}); no more events follow
    event: failure           the stream could not be read (data: {"error": ..., "detail": ...})
    : keepalive              a comment, sent when nothing else was sent for a while

Readers of one stream in one process share a single follower (:class:`StreamFanout`): the database is read
once per batch of new values, whatever the number of readers, and each value is JSON-encoded once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tether.engine.validation import count
from tether.errors import InvalidArgumentError
from tether.http.api import WorkflowAPI
from tether.http.encoding import NotJSONError, dumps, marker

KEEPALIVE_SECONDS = 15.0
RETRY_MS = 1000


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


class _Feed:
    """Follows one stream from ``base`` and keeps what it read, for every reader at or after ``base``."""

    def __init__(self, api: WorkflowAPI, workflow_id: str, key: str, base: int) -> None:
        self.api = api
        self.workflow_id = workflow_id
        self.key = key
        self.base = base
        self.items: list[Item] = []
        self.closed = False
        self.failure: Item | None = None
        self.readers = 0
        self._loop = asyncio.get_running_loop()
        self._waiting: set[asyncio.Future[None]] = set()  # readers parked until the next change
        self.task = self._loop.create_task(self._follow())

    def _bump(self) -> None:
        waiting, self._waiting = self._waiting, set()
        for fut in waiting:
            if not fut.done():
                fut.set_result(None)

    async def _follow(self) -> None:
        try:
            async for value in self.api.read_stream_async(self.workflow_id, self.key, offset=self.base):
                self.items.append(encode_value(value))
                self._bump()
            self.closed = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a storage or decoding failure ends this feed; readers are told why
            self.failure = Item("failure", dumps({"error": type(exc).__name__, "detail": str(exc)}))
        self._bump()

    async def wait_change(self, timeout: float) -> None:
        """Until the next change, or ``timeout`` seconds. One future and one timer per parked reader (a
        change wakes thousands of readers at once; ``asyncio.wait_for`` cost a task each)."""
        fut: asyncio.Future[None] = self._loop.create_future()
        self._waiting.add(fut)
        timer = self._loop.call_later(timeout, _wake, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self._waiting.discard(fut)  # after a timeout (a keepalive) it would stay until the next change


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class StreamFanout:
    """The followers of the streams being read through this server (one per stream, per event loop)."""

    def __init__(self, keepalive_seconds: float = KEEPALIVE_SECONDS) -> None:
        self.keepalive_seconds = keepalive_seconds
        self._feeds: dict[tuple[int, str, str], _Feed] = {}

    def followed(self) -> int:
        """How many streams are followed right now (for tests and health checks)."""
        return len(self._feeds)

    def _acquire(self, api: WorkflowAPI, workflow_id: str, key: str, offset: int) -> _Feed:
        ident = (id(api), workflow_id, key)
        feed = self._feeds.get(ident)
        if feed is None or feed.failure is not None:
            feed = _Feed(api, workflow_id, key, offset)
            self._feeds[ident] = feed
        feed.readers += 1
        return feed

    def _release(self, api: WorkflowAPI, feed: _Feed) -> None:
        """One reader fewer; the last one stops the feed (a private feed, never shared, has one reader)."""
        feed.readers -= 1
        ident = (id(api), feed.workflow_id, feed.key)
        if feed.readers <= 0:
            feed.task.cancel()
            if self._feeds.get(ident) is feed:
                del self._feeds[ident]

    async def events(self, api: WorkflowAPI, workflow_id: str, key: str, offset: int) -> AsyncIterator[str]:
        """The SSE text of a stream from ``offset``: values as they are written, then ``end``."""
        yield f"retry: {RETRY_MS}\n\n"
        feed = self._acquire(api, workflow_id, key, offset)
        try:
            pos = offset
            while pos < feed.base:  # an earlier reader started the feed further on: catch up from the table
                snap = await api.read_stream_nowait_async(workflow_id, key, pos)
                if not snap.values:  # the stream ends before the shared feed starts: follow it on our own
                    self._release(api, feed)
                    feed = _Feed(api, workflow_id, key, pos)
                    feed.readers = 1
                    break
                for value in snap.values[: feed.base - pos]:
                    yield format_event(pos, encode_value(value))
                    pos += 1
            while True:
                index = pos - feed.base
                if index < len(feed.items):
                    chunk = "".join(format_event(pos + i, item) for i, item in enumerate(feed.items[index:]))
                    pos = feed.base + len(feed.items)
                    yield chunk
                    continue
                if feed.closed:
                    yield format_event(None, Item("end", dumps({"next_offset": pos})))
                    return
                if feed.failure is not None:
                    yield format_event(None, feed.failure)
                    return
                before = len(feed.items)
                await feed.wait_change(self.keepalive_seconds)
                if len(feed.items) == before and not feed.closed and feed.failure is None:
                    yield ": keepalive\n\n"
        finally:
            self._release(api, feed)


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
