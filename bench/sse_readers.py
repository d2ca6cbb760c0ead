"""Many SSE readers on one stream, in one gateway server process.

    python bench/sse_readers.py                       # 1,000 readers, 50 values, SQLite in a temp dir
    python bench/sse_readers.py --readers 2000 --values 200 --db postgresql://postgres@127.0.0.1:5432/bench

The server (the gateway plus one workflow) runs in a subprocess of this script; this process opens the
readers with one httpx.AsyncClient. Once every reader is connected, the workflow is told to write its values
(each carries the time it was written); every reader must receive every value, in order, exactly once, and
then the end of the stream. Reported: time to connect the readers, delivery latency (write to receipt)
percentiles over all (reader, value) pairs, time until the last reader saw the end, and the server's memory.
Exits 1 if any reader missed, repeated or reordered a value.
"""

from __future__ import annotations

import os
import sys

# Run as a script, bench/ comes first on sys.path and bench/profile.py would shadow the standard library's
# ``profile`` (which ``cProfile`` imports, for BENCH_SSE_PROFILE): take bench/ off the path.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tether.http.sse_client import SSEParser

SSE = {"Accept": "text/event-stream"}


# -- the server side ---------------------------------------------------------------------------------------
def serve(port: int, db: str) -> None:
    import uvicorn
    from fastapi import FastAPI

    from tether import DBOS, SetWorkflowID
    from tether.http import create_gateway
    from tether.http.demo.app import memory_mb

    @DBOS.workflow(name="bench.sse_writer")
    async def writer(n: int, interval_s: float = 0.0) -> int:
        await DBOS.recv_async("go", timeout_seconds=600)
        for i in range(n):
            if i and interval_s:
                await asyncio.sleep(interval_s)  # a paced stream: each value's fan-out before the next
            await DBOS.write_stream_async("s", {"i": i, "t": time.time()})
        await DBOS.close_stream_async("s")
        return n

    DBOS(config={"name": "bench-sse", "system_database_url": db, "max_executor_threads": 64})
    DBOS.launch()
    app = FastAPI()

    @app.post("/bench/start/{workflow_id}/{n}")
    async def start(workflow_id: str, n: int, interval_s: float = 0.0) -> dict[str, str]:
        with SetWorkflowID(workflow_id):
            await DBOS.start_workflow_async(writer, n, interval_s)
        return {"workflow_id": workflow_id}

    @app.get("/bench/memory")
    async def memory() -> dict[str, float]:
        return {"memory_mb": memory_mb(), "cpu_s": time.process_time()}

    app.mount("/", create_gateway(DBOS, insecure=True))  # a local benchmark, 127.0.0.1 only
    profile_to = os.environ.get("BENCH_SSE_PROFILE")  # a cProfile dump of the server, for where the time goes
    if profile_to:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    try:
        # BENCH_SSE_SERVER=h11: uvicorn's pure-Python HTTP/1.1 on asyncio's loop, as when httptools and uvloop
        # are not installed; default: what uvicorn picks (httptools and uvloop when installed, as `tether serve`)
        fast = os.environ.get("BENCH_SSE_SERVER", "auto") != "h11"
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096,
                    http="auto" if fast else "h11", loop="auto" if fast else "asyncio")
    finally:
        if profile_to:
            prof.disable()
            prof.dump_stats(profile_to)
        DBOS.destroy()


# -- the client side ---------------------------------------------------------------------------------------
async def read_all(client: httpx.AsyncClient, url: str, connected: asyncio.Event, ready: list[int],
                   total: int) -> tuple[list[int], list[float], float]:
    """One reader: the offsets it received, each value's latency (s), and when it saw the end."""
    offsets: list[int] = []
    latencies: list[float] = []
    parser = SSEParser()
    async with client.stream("GET", url, headers=SSE) as response:
        response.raise_for_status()
        ready.append(1)
        if len(ready) == total:
            connected.set()
        async for chunk in response.aiter_text():
            now = time.time()
            for event in parser.feed(chunk):
                if event.event == "end":
                    return offsets, latencies, now
                value = event.json()
                offsets.append(int(event.id or -1))
                latencies.append(now - float(value["t"]))
    return offsets, latencies, time.time()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def run_bench(base: str, readers: int, values: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=readers + 16, max_keepalive_connections=readers + 16)
    timeout = httpx.Timeout(600, connect=60)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        workflow_id = f"sse-bench-{uuid.uuid4().hex[:8]}"
        (await client.post(f"/bench/start/{workflow_id}/{values}")).raise_for_status()
        connected = asyncio.Event()
        ready: list[int] = []
        url = f"/workflows/{workflow_id}/streams/s"
        t0 = time.time()
        tasks = [asyncio.create_task(read_all(client, url, connected, ready, readers)) for _ in range(readers)]
        await connected.wait()
        t_connected = time.time()
        followed = (await client.get("/health")).json()["streams_followed"]
        go = {"message": "go", "topic": "go"}
        (await client.post(f"/workflows/{workflow_id}/messages", json=go)).raise_for_status()
        t_go = time.time()
        results = await asyncio.gather(*tasks)
        t_done = max(end for _, _, end in results)
        memory = (await client.get("/bench/memory")).json()["memory_mb"]
    expected = list(range(values))
    wrong = sum(1 for offsets, _, _ in results if offsets != expected)
    latencies = [lat for _, lats, _ in results for lat in lats]
    return {
        "readers": readers, "values": values, "readers_with_wrong_sequence": wrong,
        "connect_all_s": round(t_connected - t0, 3), "shared_followers": followed,
        "deliveries": len(latencies),
        "latency_ms_p50": round(pct(latencies, 50), 1), "latency_ms_p99": round(pct(latencies, 99), 1),
        "latency_ms_max": round(max(latencies) * 1000, 1),
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 1),
        "all_ended_after_go_s": round(t_done - t_go, 3), "server_memory_mb": memory,
    }


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--values", type=int, default=50)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit(2 * args.readers + 256)
    if args.serve:
        serve(args.port, args.db)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"sqlite:///{Path(tmp) / 'sse-bench.sqlite'}"
        port = args.port or _free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--db", db],
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base, server)
            report = asyncio.run(run_bench(base, args.readers, args.values))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps(report, indent=2))
    return 0 if report["readers_with_wrong_sequence"] == 0 else 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}")
        try:
            httpx.get(f"{base}/health", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)  # a benchmark harness, not a test: poll for the server process to listen
    raise SystemExit("server did not start within 60s")


if __name__ == "__main__":
    sys.exit(main())
