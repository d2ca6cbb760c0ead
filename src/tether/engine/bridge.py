"""The one bridge from synchronous code into the engine's coroutines.

Every engine operation is written once, as a coroutine. Sync callers run it with :func:`run_sync`, on an event
loop private to the calling thread; because that loop serves only this thread, storage calls made from it run
inline instead of hopping to the I/O pool (see :func:`inline_io`). A sync call made from a thread whose loop is
already running (sync API used inside async code) runs the coroutine on a helper thread instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()
_helpers = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="tether-bridge")


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code and return its result."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(coro)
    ctx = contextvars.copy_context()
    return _helpers.submit(ctx.run, _run_on_helper, coro).result()


def _run_on_helper(coro: Coroutine[Any, Any, T]) -> T:
    return _thread_loop().run_until_complete(coro)


def close_thread_loop() -> None:
    """Close this thread's bridge loop; called when a thread the engine started is about to end."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is not None and not loop.is_running():
        loop.close()
    _local.loop = None


def inline_io() -> bool:
    """True when the running loop is a thread-private bridge loop, where blocking calls are fine."""
    loop = getattr(_local, "loop", None)
    if loop is None:
        return False
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
