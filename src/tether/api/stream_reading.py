"""Reading streams, on ``DBOS`` and ``DBOSClient`` alike (one definition; see ``api/management.py::_either``).

Readers wait for values by wake-up; ``polling_interval_sec`` is accepted for DBOS compatibility and only
bounds the wait for a wake-up that went missing. ``shard_key`` is accepted and ignored (the database is not
sharded).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

from tether.api.management import _either, _runtime_of
from tether.engine import streams
from tether.engine.bridge import run_sync
from tether.types import StreamInfo, StreamRead


class StreamReading:
    """Mixin of ``DBOS`` and ``DBOSClient``."""

    @_either
    def read_stream(self, workflow_id: str, key: str, *, offset: int = 0, polling_interval_sec: float | None = None,
                    timeout_seconds: float | None = None, shard_key: str | None = None) -> Generator[Any, Any, None]:
        """Yield every value of a stream in order, from ``offset``, until it is closed or its workflow ends.

        Raises:
            NonExistentWorkflowError: no workflow has ``workflow_id``.
            DBOSStreamTimeoutError: no next value came within ``timeout_seconds``.
        """
        yield from streams.follow(_runtime_of(self), workflow_id, key, offset, timeout_seconds)

    @_either
    async def read_stream_async(self, workflow_id: str, key: str, *, offset: int = 0,
                                polling_interval_sec: float | None = None, timeout_seconds: float | None = None,
                                shard_key: str | None = None) -> AsyncGenerator[Any, None]:
        """Async form of :meth:`read_stream`; waiting holds no thread."""
        async for value in streams.follow_async(_runtime_of(self), workflow_id, key, offset, timeout_seconds):
            yield value

    @_either
    def read_stream_nowait(self, workflow_id: str, key: str, offset: int = 0) -> StreamRead:
        """The values written so far from ``offset`` and whether the stream is closed, without waiting."""
        return run_sync(streams.StreamReader(_runtime_of(self), workflow_id, key, offset).poll())

    @_either
    async def read_stream_nowait_async(self, workflow_id: str, key: str, offset: int = 0) -> StreamRead:
        return await streams.StreamReader(_runtime_of(self), workflow_id, key, offset).poll()

    @_either
    def list_streams(self, workflow_id: str) -> list[StreamInfo]:
        """Every stream the workflow wrote (key, number of values, closed), by key; a Tether addition."""
        return run_sync(streams.list_streams(_runtime_of(self), workflow_id))

    @_either
    async def list_streams_async(self, workflow_id: str) -> list[StreamInfo]:
        """Coroutine form of :meth:`list_streams`."""
        return await streams.list_streams(_runtime_of(self), workflow_id)
