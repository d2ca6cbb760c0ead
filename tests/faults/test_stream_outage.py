"""A PostgreSQL restart while a workflow's stream and events are being followed: an SSE reader through a
gateway on a ``DBOSClient`` (the stream's one shared database follower, woken by NOTIFY), ``read_stream`` in
the workflow's own runtime (sync and async) and on the client, and ``get_event`` waiters on both. What the
workflow writes after the restart reaches every one of them, each value once and in order, by the wake-ups
alone: every wait here is shorter than the 30 s safety-net re-check, so a follower or listener that never
came back, or a reconnect that does not re-check its waiters, fails the test."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import make_config
from tests.faults.conftest import PgCluster
from tests.integration.test_http_socket import SSE, Reader
from tether import DBOS, DBOSClient
from tether.http import create_gateway
from tether.http.server import ServerThread

WAIT = 20.0  # shorter than the safety-net re-check: only a wake-up can end these waits in time


def test_stream_and_event_readers_get_what_is_written_after_a_restart(pg_cluster: PgCluster) -> None:
    url = pg_cluster.create_database("tether_stream_outage")
    tag = uuid.uuid4().hex[:8]

    @DBOS.workflow(name=f"producer-{tag}")
    def producer() -> str:
        while True:
            cmd = DBOS.recv("cmd", timeout_seconds=WAIT)  # None (then closing early) if a wake-up is lost
            if cmd is None or cmd["op"] == "close":
                break
            if cmd["op"] == "write":
                DBOS.write_stream("s", cmd["value"])
            else:
                DBOS.set_event(cmd["key"], cmd["value"])
        DBOS.close_stream("s")
        return "done"

    async def read_async(workflow_id: str) -> list[Any]:
        return [value async for value in DBOS.read_stream_async(workflow_id, "s", timeout_seconds=WAIT)]

    DBOS(config=make_config(url))
    DBOS.launch()
    client = DBOSClient(url)
    read: dict[str, Any] = {}

    def reading(name: str, read_all: Callable[[], Any]) -> threading.Thread:
        def run() -> None:
            try:
                read[name] = read_all()
            except BaseException as exc:  # reported in the assertion below
                read[name] = exc
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    try:
        # The gateway serves from the client: its follower hears of the workflow's writes only by NOTIFY.
        with ServerThread(create_gateway(client, insecure=True)) as server, \
                httpx.Client(base_url=server.url, timeout=WAIT) as http:
            w = DBOS.start_workflow(producer).workflow_id
            sse = Reader(http, f"/workflows/{w}/streams/s", headers=SSE)
            try:
                readers = [
                    reading("read_stream", lambda: list(DBOS.read_stream(w, "s", timeout_seconds=WAIT))),
                    reading("read_stream_async", lambda: asyncio.run(read_async(w))),
                    reading("client read_stream", lambda: list(client.read_stream(w, "s", timeout_seconds=WAIT))),
                    reading("get_event", lambda: DBOS.get_event(w, "after", timeout_seconds=WAIT)),
                    reading("client get_event", lambda: client.get_event(w, "after", timeout_seconds=WAIT)),
                ]
                for i in range(3):
                    client.send(w, {"op": "write", "value": i}, "cmd")
                    event = sse.next()
                    assert (event.event, event.id, event.json()) == ("message", str(i), i)

                pg_cluster.restart()  # every connection is cut: the pool, the listener, the gateway's follower

                for i in range(3, 6):
                    client.send(w, {"op": "write", "value": i}, "cmd")
                client.send(w, {"op": "event", "key": "after", "value": 42}, "cmd")
                client.send(w, {"op": "close"}, "cmd")
                after: list[tuple[str | None, Any]] = []
                while (event := sse.next()).event != "end":
                    after.append((event.id, event.json()))
                assert after == [(str(i), i) for i in range(3, 6)]  # once each, in order, none lost
                assert event.json() == {"next_offset": 6}
            finally:
                sse.close()
            for thread in readers:
                thread.join(WAIT + 10)
            assert read == {"read_stream": list(range(6)), "read_stream_async": list(range(6)),
                            "client read_stream": list(range(6)), "get_event": 42, "client get_event": 42}
            assert DBOS.retrieve_workflow(w).get_result(timeout_seconds=WAIT) == "done"
    finally:
        client.destroy()
        DBOS.destroy()
