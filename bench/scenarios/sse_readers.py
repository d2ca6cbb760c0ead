"""sse_readers: ``readers`` concurrent Server-Sent-Events readers of one stream through the HTTP gateway.

Tether only (dbos 3.4.0 has no HTTP gateway). The server -- the gateway plus one writer workflow, on the
scenario's database -- runs in a subprocess (``bench/sse_readers.py --serve``; ``BENCH_SSE_SERVER=h11`` runs it
on uvicorn's pure-Python HTTP and asyncio's loop, as without the ``httptools``/``uvloop`` packages); this process
opens the readers as plain HTTP/1.1 connections, each an ``asyncio.Protocol`` that notes in ``data_received``
what came and when, and undoes the chunked coding and parses the events after the run (no task woken per
value, and no parsing while reading: this process reads all the sockets on the server's own cores, and an
HTTP client library costs more per event than the server does), on uvloop when it is installed. Once every
reader has its response headers, the workflow is told to write ``values`` values, ``interval_s`` apart; each
carries ``time.time()`` at the call of ``write_stream``. Every reader must receive every value, in order,
exactly once, then the end of the stream.

Reported: time to connect every reader, write->delivery latency over all (reader, value) pairs (p50 = median
of the per-value p50s), readers that missed, repeated or reordered a value, time from the first write until
the last reader saw the end, the server RSS, and the server's and the readers' CPU per delivered value (from the
first write to the end; steadier under load than the wall-clock latency). The latency includes this client's own
queueing: a value reaches 10,000 sockets, and this one process reads them all on the same two cores as the
server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bench.common import Metric, median, percentile

ROOT = Path(__file__).resolve().parent.parent.parent
_END = b"event: end\n"


async def _request(host: str, port: int, method: str, path: str, body: Any = None) -> bytes:
    """One HTTP/1.1 request on a connection of its own; the body of a 2xx answer (not chunked)."""
    payload = b"" if body is None else json.dumps(body).encode()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
    data = await reader.read()
    writer.close()
    head, _, answer = data.partition(b"\r\n\r\n")
    if head.split(b" ", 2)[1][:1] != b"2":
        raise RuntimeError(f"{method} {path}: {data[:300]!r}")
    return answer


class _Reader(asyncio.Protocol):
    """One reader as a protocol. On receipt it only notes the bytes and when they came (and whether the stream's
    end is among them); the HTTP chunks and the events are parsed after the run (:meth:`parsed`). This one
    process reads all 10,000 sockets, so whatever it spends per value delays every reader after it in the
    loop's turn: parsing as it reads would add this client's queueing to the latency of the server's readers,
    who in practice parse on machines of their own."""

    def __init__(self, request: bytes, connected: list[int], done: asyncio.Future[None]) -> None:
        self.request = request
        self.headed: asyncio.Future[None] = done.get_loop().create_future()
        self.connected = connected
        self.done = done
        self.head_seen = False
        self.head = b""  # the response's head until it is complete
        self.pieces: list[tuple[float, bytes]] = []  # (time.time() on receipt, bytes) after the head
        self.tail = b""  # the last bytes received, for an end marker split between two reads
        self.end = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.head_seen:
            head, sep, data = (self.head + data).partition(b"\r\n\r\n")
            if not sep:
                self.head = head
                return
            if b" 200 " not in head.split(b"\r\n", 1)[0] or b"chunked" not in head.lower():
                self._fail(RuntimeError(f"unexpected response: {head[:200]!r}"))
                return
            self.head_seen = True
            self.connected.append(1)
            self.headed.set_result(None)
        self.pieces.append((now, data))
        seen = self.tail + data
        if _END in seen:
            self.end = now
            if not self.done.done():
                self.done.set_result(None)
            if self.transport is not None:
                self.transport.close()
        self.tail = seen[-len(_END):]

    def parsed(self) -> tuple[list[int], list[tuple[int, float]]]:
        """The offsets received, and (value index, latency s) per value: each event is dated by the read that
        completed it."""
        offsets: list[int] = []
        latencies: list[tuple[int, float]] = []
        buf = events = b""
        for now, data in self.pieces:
            buf += data
            while True:  # chunked transfer coding
                line_end = buf.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(buf[:line_end].split(b";", 1)[0], 16)
                if len(buf) < line_end + 2 + size + 2:
                    break
                events += buf[line_end + 2:line_end + 2 + size]
                buf = buf[line_end + 4 + size:]
            *blocks, events = events.split(b"\n\n")
            for block in blocks:
                ident = kind = data_line = None
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        data_line = line[6:]
                    elif line.startswith(b"id: "):
                        ident = int(line[4:])
                    elif line.startswith(b"event: "):
                        kind = line[7:]
                if data_line is None or kind == b"end":
                    continue  # retry:, a comment, or the end
                value = json.loads(data_line)
                offsets.append(-1 if ident is None else ident)
                latencies.append((value["i"], now - float(value["t"])))
        return offsets, latencies

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.headed.done():
            self.headed.set_exception(ConnectionError(f"closed before the response's head: {exc}"))
        if not self.done.done():
            self.end = time.time()
            self.done.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
        if not self.headed.done():
            self.headed.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


async def _reader(host: str, port: int, path: str, connected: list[int], gate: asyncio.Semaphore) -> _Reader:
    """One reader, once it saw the end of the stream (or its connection closed)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode()
    async with gate:  # held until the response's head came
        _, protocol = await loop.create_connection(lambda: _Reader(request, connected, done), host, port)
        await protocol.headed
    await done
    return protocol


async def _bench(host: str, port: int, readers: int, values: int, interval_s: float,
                 connect_concurrency: int) -> dict[str, Any]:
    workflow_id = f"sse-bench-{uuid.uuid4().hex[:8]}"
    await _request(host, port, "POST", f"/bench/start/{workflow_id}/{values}?interval_s={interval_s}")
    connected: list[int] = []
    gate = asyncio.Semaphore(connect_concurrency)
    t0 = time.time()
    path = f"/workflows/{workflow_id}/streams/s"
    tasks = [asyncio.create_task(_reader(host, port, path, connected, gate)) for _ in range(readers)]
    while len(connected) < readers:
        failed = [t for t in tasks if t.done() and t.exception() is not None]
        if failed:
            raise failed[0].exception()  # type: ignore[misc]
        await asyncio.sleep(0.05)
    connect_s = time.time() - t0
    await asyncio.sleep(1.0)  # let every response generator subscribe to the shared feed
    followed = json.loads(await _request(host, port, "GET", "/health"))["streams_followed"]
    cpu_before = json.loads(await _request(host, port, "GET", "/bench/memory"))["cpu_s"]
    t_go = time.time()
    client_cpu = time.process_time()
    await _request(host, port, "POST", f"/workflows/{workflow_id}/messages", {"message": "go", "topic": "go"})
    readers_done = await asyncio.gather(*tasks)
    client_cpu = time.process_time() - client_cpu
    results = [(*r.parsed(), r.end) for r in readers_done]  # parsed once every reader is done
    t_done = max(end for _, _, end in results)
    server = json.loads(await _request(host, port, "GET", "/bench/memory"))
    return {"results": results, "connect_s": connect_s, "followed": followed, "t_go": t_go, "t_done": t_done,
            "memory_mb": server["memory_mb"], "server_cpu_s": server["cpu_s"] - cpu_before, "client_cpu_s": client_cpu}


def _run_client(main: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """The readers run on uvloop when it is installed (as the gateway's server does): the client shares the
    machine's cores with the server, and its own cost per value shows in the latency."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)  # type: ignore[no-any-return]


def run(url: str, readers: int = 1000, values: int = 20, interval_s: float = 0.2,
        connect_concurrency: int = 256) -> list[Metric]:
    from bench.sse_readers import _free_port, _wait_up, raise_fd_limit

    raise_fd_limit(readers + 512)
    port = _free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sse_readers.py"), "--serve", "--port",
                               str(port), "--db", url], env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_up(f"http://127.0.0.1:{port}", server)
        r = _run_client(_bench("127.0.0.1", port, readers, values, interval_s, connect_concurrency))
    finally:
        # SIGINT, not SIGTERM: uvicorn re-raises the signal it caught once it has shut down, and SIGINT's
        # default (KeyboardInterrupt) still runs the server's clean-up (DBOS.destroy, BENCH_SSE_PROFILE).
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    expected = list(range(values))
    wrong = sum(1 for offsets, _, _ in r["results"] if offsets != expected)
    by_value: dict[int, list[float]] = {}
    for _, lats, _ in r["results"]:
        for i, lat in lats:
            by_value.setdefault(i, []).append(lat * 1000.0)
    pooled = [v for vs in by_value.values() for v in vs]
    per_value_p50 = [percentile(by_value[i], 50) for i in sorted(by_value)]
    detail = {"readers": readers, "values": values, "interval_s": interval_s, "deliveries": len(pooled),
              "readers_with_wrong_sequence": wrong, "p99_ms": percentile(pooled, 99),
              "max_ms": max(pooled, default=float("nan")), "per_value_p50_ms": [round(v, 1) for v in per_value_p50],
              "shared_followers": r["followed"]}
    return [
        Metric(f"connect all R={readers}", r["connect_s"], "s", "lower"),
        Metric("write->delivery p50", median(per_value_p50), "ms", "lower", detail),
        Metric("write->delivery p99", percentile(pooled, 99), "ms", "lower", detail),
        Metric("readers missing, repeating or reordering a value", float(wrong), "readers", "lower"),
        Metric("first write -> last reader saw the end", r["t_done"] - r["t_go"], "s", "lower"),
        Metric(f"server RSS R={readers}", float(r["memory_mb"]), "MB", "lower"),
        Metric("server CPU per delivery", 1e6 * r["server_cpu_s"] / max(1, len(pooled)), "us", "lower",
               {"server_cpu_s": r["server_cpu_s"], "deliveries": len(pooled)}),
        Metric("readers' CPU per delivery", 1e6 * r["client_cpu_s"] / max(1, len(pooled)), "us", "lower",
               {"client_cpu_s": r["client_cpu_s"], "deliveries": len(pooled)}),
    ]
