"""One client's Server-Sent Events of a stream: an ASGI response whose values are written by the stream's shared
feed (:mod:`tether.http.sse`) while the client keeps up, and by the response itself while it catches up.

A reader at the head of the stream is parked: it does not run when a value is written. The feed calls
:meth:`_Reader.push`, which runs, for that reader, the ``send`` the gateway itself was given (the server's, or
that of the app the gateway is mounted in: see :data:`tether.http.guard.BODY_SEND`) right away, without a task
switch. A ``send`` that completes without waiting -- the socket took the bytes, the
usual case -- costs one call per reader per value. A ``send`` that would wait (the server's write buffer for
that client is full: a slow reader) is left half-done: the reader leaves the head and its own coroutine finishes
that ``send`` (:func:`_drive`), then catches up from the feed's window or the database at its own pace and
rejoins the head. Nothing is buffered per slow reader beyond the frames of that one ``send``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from tether.http.api import WorkflowAPI
from tether.http.guard import BODY_SEND
from tether.http.sse import (
    KEEPALIVE_FRAME,
    RETRY_MS,
    WRITE_BYTES,
    Feed,
    StreamFanout,
    encode_value,
    end_frame,
    frame,
)

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class StreamEventsResponse(Response):
    """The live SSE of ``workflow_id``'s stream ``key`` from offset ``start``, then its ``end`` event."""

    media_type = "text/event-stream"

    def __init__(self, fanout: StreamFanout, api: WorkflowAPI, workflow_id: str, key: str, start: int) -> None:
        # Not Response.__init__: it would give the response an empty body and Content-Length: 0.
        self.status_code = 200
        self.background: BackgroundTask | None = None
        self.init_headers(HEADERS)
        self._follow = (fanout, api, workflow_id, key, start)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        disconnected = asyncio.ensure_future(_disconnect(receive))
        try:
            await _serve(_Reader(scope.get(BODY_SEND, send)), disconnected, *self._follow)
        finally:
            disconnected.cancel()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Reader:
    """One client at the head of a feed, or catching up to it."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.pos = 0
        self.woken: asyncio.Future[None] | None = None
        self._pending: tuple[Generator[Any, Any, Any], Any] | None = None
        self._error: BaseException | None = None

    def push(self, data: bytes, head: int) -> bool:
        """Send ``data`` (the frames up to offset ``head``) now; False when the send did not complete at once
        (it is finished by :meth:`resume`) or failed (raised by :meth:`resume`)."""
        message: Message = {"type": "http.response.body", "body": data, "more_body": True}
        steps = self.send(message).__await__()
        self.pos = head
        try:
            yielded = steps.send(None)
        except StopIteration:
            return True
        except Exception as exc:  # the send failed: the reader's own coroutine raises it
            self._error = exc
            return False
        self._pending = (steps, yielded)
        return False

    def detach(self) -> None:
        if self.woken is not None and not self.woken.done():
            self.woken.set_result(None)

    async def write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def resume(self) -> None:
        """Finish the send :meth:`push` left half-done, if any.

        Raises:
            Exception: whatever that send raised.
        """
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await _drive(*pending)

    def drop(self) -> None:
        """The client left: abandon a half-done send."""
        if self._pending is not None:
            self._pending[0].close()
            self._pending = None


async def _serve(reader: _Reader, disconnected: asyncio.Future[None], fanout: StreamFanout, api: WorkflowAPI,
                 workflow_id: str, key: str, pos: int) -> None:
    """Write the stream from ``pos`` to ``reader`` until its end, or until the client leaves.

    Raises:
        Exception: a read of the stream from the database failed, or a send failed.
    """
    await reader.write(f"retry: {RETRY_MS}\n\n".encode())
    feed: Feed = fanout.acquire(api, workflow_id, key, pos)
    try:
        while not disconnected.done():
            if pos < feed.base:  # behind the feed's window: from the database
                snap = await api.read_stream_nowait_async(workflow_id, key, pos)
                if snap.values:
                    piece, size = [], 0
                    for value in snap.values:
                        piece.append(frame(pos, encode_value(value)))
                        size += len(piece[-1])
                        pos += 1
                        if size >= WRITE_BYTES:
                            await reader.write(b"".join(piece))
                            piece, size = [], 0
                    if piece:
                        await reader.write(b"".join(piece))
                elif snap.closed:
                    await reader.write(end_frame(pos))
                    return
                # The stream ends before the shared feed starts. Another reader may have moved the feed back
                # meanwhile (then it starts here now: look again); else move it back, unless it has read values
                # further on (the stream was rewound): then follow alone.
                elif pos < feed.base and not feed.rebase(pos):
                    fanout.release(api, feed)
                    feed = fanout.private(api, workflow_id, key, pos)
            elif pos < feed.head:  # in the window
                data, pos = feed.since(pos)
                await reader.write(data)
            elif feed.end is not None:
                await reader.write(feed.end if feed.failed else end_frame(pos))
                return
            elif pos == feed.head:  # park: the feed writes to this reader until it falls behind or the end
                reader.pos = pos
                reader.woken = asyncio.get_running_loop().create_future()
                feed.live.add(reader)
                try:
                    await asyncio.wait((reader.woken, disconnected), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    feed.live.discard(reader)
                if disconnected.done():
                    reader.drop()
                    return
                await reader.resume()
                pos = reader.pos
            else:  # ahead of the head (an offset not written yet): wait for the feed to get there
                changed = feed.changed
                await asyncio.wait((changed, disconnected), timeout=fanout.keepalive_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
                if not changed.done() and not disconnected.done():
                    await reader.write(KEEPALIVE_FRAME)
    finally:
        fanout.release(api, feed)


async def _disconnect(receive: Receive) -> None:
    """Until the client leaves (or the server stops serving it)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drive(steps: Generator[Any, Any, Any], yielded: Any) -> None:
    """Run an awaitable already started by hand (``steps`` suspended on ``yielded``) to its end, as a task
    would: wait for what it waits for, resume it with the outcome, until it returns.

    Raises:
        BaseException: whatever the awaitable raises (a cancellation of this coroutine is passed into it).
    """
    while True:
        try:
            if yielded is None:  # a bare yield: let the loop run once
                await asyncio.sleep(0)
                value = None
            else:  # a future, marked as awaited by the inner await: unmark it, as a task would, and await it
                yielded._asyncio_future_blocking = False
                value = await yielded
        except BaseException as exc:
            try:
                yielded = steps.throw(exc)
            except StopIteration:
                return
        else:
            try:
                yielded = steps.send(value)
            except StopIteration:
                return
