"""Live updates for the dashboard's pages: one watcher per gateway, fanned out to every open page.

The watcher does not poll. While at least one page listens, it taps the runtime's wake-up hub
(:meth:`tether.engine.waiters.WakeupHub.add_tap`), which already hears every status change, event, message and
stream write: this process's own at once, other processes' through the backend's listener (LISTEN/NOTIFY on
PostgreSQL, the trigger-fed wake-up log on SQLite). Changes are gathered for ``BATCH_SECONDS``; then

- list pages get the changed workflows' rows, read in **one** query (by primary key, without inputs and
  outputs) for all of them, whatever the number of pages open;
- a workflow's page gets the kinds of change that touched it (``status``, ``event:KEY``, ``stream:KEY``,
  ``msg``), and reads again only the part that changed.

A page that falls behind (its queue of unsent batches is full), or a burst of more than ``MAX_BATCH_IDS``
changed workflows, gets ``resync``: reload what you show. SSE events::

    event: ready        the feed is live (data: {})
    event: workflows    {"workflows": [status, ...]}   (list pages)
    event: changed      {"kinds": ["status", "event:progress", ...]}   (a workflow's page)
    event: resync       {}
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether.api.binding import _runtime_of
from tether.engine.runtime import Runtime
from tether.http.api import WorkflowAPI
from tether.http.encoding import dumps, status_json

if TYPE_CHECKING:
    from starlette.types import Receive

BATCH_SECONDS = 0.2
MAX_BATCH_IDS = 500
MAX_QUEUED_BATCHES = 32
KEEPALIVE_SECONDS = 15.0
_WATCHED_KINDS = frozenset({"wf", "event", "stream", "msg"})


@dataclass(eq=False)
class Subscriber:
    """One open page: the whole list (``workflow_id`` None, limited to ``prefix`` when its token is) or one
    workflow."""

    workflow_id: str | None
    prefix: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUED_BATCHES))
    lagging: bool = False

    def put(self, name: str, data: dict[str, Any]) -> None:
        if self.lagging:
            return
        try:
            self.queue.put_nowait((name, data))
        except asyncio.QueueFull:
            self.lagging = True  # the page gets one resync when it catches up


class ChangeWatcher:
    """The live feed of one gateway (see the module docstring). Safe to build before DBOS is launched: it
    looks for the runtime when the first page subscribes."""

    def __init__(self, api: WorkflowAPI) -> None:
        self.api = api
        self._subs: set[Subscriber] = set()
        self._rt: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}
        self._overflow = False
        self._kick: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def watching(self) -> int:
        """How many pages listen right now."""
        return len(self._subs)

    def subscribe(self, workflow_id: str | None, prefix: str | None = None) -> Subscriber:
        """Start feeding a page.

        Raises:
            NotLaunchedError: the API's runtime is not launched (or was destroyed).
        """
        if not self._subs:
            rt = _runtime_of(self.api)
            self._loop = asyncio.get_running_loop()
            self._kick = asyncio.Event()
            self._rt = rt
            rt.hub.add_tap(self._tap)
            self._task = self._loop.create_task(self._run())
        sub = Subscriber(workflow_id, prefix)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)
        if self._subs:
            return
        if self._rt is not None:
            self._rt.hub.remove_tap(self._tap)
        if self._task is not None:
            self._task.cancel()
        self._rt = self._task = self._kick = None
        with self._lock:
            self._pending.clear()
            self._overflow = False

    def _tap(self, kind: str, workflow_id: str, key: str) -> None:
        """Called by the hub for every notification, on whatever thread notified: note it, and wake the
        batching task only when the batch was empty (one cross-thread call per batch, not per change)."""
        if kind not in _WATCHED_KINDS:
            return
        with self._lock:
            first = not self._pending and not self._overflow
            if len(self._pending) >= MAX_BATCH_IDS and workflow_id not in self._pending:
                self._overflow = True
            else:
                self._pending.setdefault(workflow_id, set()).add("status" if kind == "wf" else
                                                                 "msg" if kind == "msg" else f"{kind}:{key}")
        loop, kick = self._loop, self._kick
        if first and loop is not None and kick is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody listens any more
                loop.call_soon_threadsafe(kick.set)

    async def _run(self) -> None:
        kick = self._kick
        assert kick is not None
        while True:
            await kick.wait()
            await asyncio.sleep(BATCH_SECONDS)
            kick.clear()
            with self._lock:
                pending, self._pending = self._pending, {}
                overflow, self._overflow = self._overflow, False
            try:
                await self._deliver(pending, overflow)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away, say: every page reloads what it shows when it can
                for sub in list(self._subs):
                    sub.put("resync", {})

    async def _deliver(self, pending: dict[str, set[str]], overflow: bool) -> None:
        lists = [s for s in self._subs if s.workflow_id is None]
        if overflow:
            for sub in lists:
                sub.put("resync", {})
        else:
            changed = [wfid for wfid, kinds in pending.items() if "status" in kinds]
            if lists and changed:
                found = await self.api.list_workflows_async(workflow_ids=changed, load_input=False,
                                                            load_output=False)
                rows = [status_json(s) for s in found]
                for sub in lists:
                    mine = [r for r in rows if sub.prefix is None or r["workflow_id"].startswith(sub.prefix)]
                    if mine:
                        sub.put("workflows", {"workflows": mine})
        for sub in list(self._subs):
            if sub.workflow_id is not None and sub.workflow_id in pending:
                sub.put("changed", {"kinds": sorted(pending[sub.workflow_id])})
            elif sub.workflow_id is not None and overflow:
                sub.put("changed", {"kinds": ["resync"]})

    async def events(self, sub: Subscriber, receive: Receive | None = None) -> AsyncIterator[str]:
        """The SSE text for one page, until it leaves. With the request's ``receive``, a page that leaves is
        noticed at once (else at the next keepalive, when writing to it fails)."""
        gone = asyncio.ensure_future(_disconnected(receive)) if receive is not None else None
        try:
            yield "retry: 2000\n\nevent: ready\ndata: {}\n\n"
            while True:
                if sub.lagging and sub.queue.empty():
                    sub.lagging = False
                    yield "event: resync\ndata: {}\n\n"
                    continue
                got = asyncio.ensure_future(sub.queue.get())
                try:
                    await asyncio.wait({got} if gone is None else {got, gone}, timeout=KEEPALIVE_SECONDS,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not got.done():
                        got.cancel()
                if gone is not None and gone.done():
                    return
                if not got.done() or got.cancelled():
                    yield ": keepalive\n\n"
                    continue
                name, data = got.result()
                yield f"event: {name}\ndata: {dumps(data)}\n\n"
        finally:
            if gone is not None:
                gone.cancel()
            self.unsubscribe(sub)


async def _disconnected(receive: Receive) -> None:
    """Return when the client of this request has gone (its ``receive`` says ``http.disconnect``)."""
    while (await receive())["type"] != "http.disconnect":
        pass
