"""What OpenTelemetry costs: sequential workflows (two steps each) with OpenTelemetry absent (its import
blocked), installed but off (no ``enable_otlp``), and on (``enable_otlp`` with an SDK ``TracerProvider`` whose
batch processor hands the spans to an exporter that drops them), on SQLite and PostgreSQL.

    PYTHONPATH=src python3 bench/tracing_overhead.py [--n 500] [--rounds 3] [--backend sqlite,postgres]

Each (mode, backend, round) runs in its own subprocess on a fresh database; rounds interleave the modes so
that drift of the machine falls on all of them. Prints per-workflow latency (median of the rounds' medians, and
mean), this process's CPU time per workflow (what tracing adds on the client side, less disturbed by a loaded
database server than the latency), and the differences to ``absent``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

MODES = ("absent", "off", "on")
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


def _block_opentelemetry() -> None:
    class Blocker:
        @staticmethod
        def find_spec(name: str, path: Any = None, target: Any = None) -> None:
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)

    sys.meta_path.insert(0, Blocker())


def _provider() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)


def child(mode: str, url: str, n: int, warmup: int) -> dict[str, Any]:
    if mode == "absent":
        _block_opentelemetry()
    elif mode == "on":
        _provider()
    from tether import DBOS

    @DBOS.step()
    def one(x: int) -> int:
        return x + 1

    @DBOS.step()
    def two(x: int) -> int:
        return x * 2

    @DBOS.workflow()
    def work(x: int) -> int:
        return two(one(x))

    DBOS(config={"name": "trace-bench", "system_database_url": url, "enable_otlp": mode == "on",
                 "application_version": "bench", "log_level": "WARNING"})
    DBOS.launch()
    try:
        times = []
        for i in range(warmup + n):
            if i == warmup:
                cpu0 = time.process_time()
            t0 = time.perf_counter()
            work(i)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
    finally:
        DBOS.destroy()
    loaded = any(m.split(".")[0] == "opentelemetry" for m in sys.modules)
    return {"median_us": statistics.median(times) * 1e6, "mean_us": statistics.fmean(times) * 1e6,
            "cpu_us": cpu / n * 1e6, "opentelemetry_loaded": loaded}


def _database(backend: str) -> tuple[str, Any]:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="trace-bench-")
        return f"sqlite:///{folder}/bench.sqlite", None
    import psycopg

    name = f"bench_trace_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_URL}/{name}", name


def _drop(name: str | None) -> None:
    if name is None:
        return
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", default="sqlite,postgres")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.n, args.warmup)))
        return
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for backend in args.backend.split(","):
        for _ in range(args.rounds):
            for mode in MODES:
                url, name = _database(backend)
                try:
                    out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--warmup", str(args.warmup),
                                          "--child", mode, url], capture_output=True, text=True, check=True)
                finally:
                    _drop(name)
                results.setdefault((backend, mode), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.n} sequential workflows of two steps, {args.rounds} rounds; microseconds per workflow")
    print("| backend | mode | median | mean | vs absent (median) | CPU of this process | vs absent (CPU) "
          "| opentelemetry imported |")
    print("|---|---|---|---|---|---|---|---|")
    for backend in args.backend.split(","):
        base = statistics.median(r["median_us"] for r in results[(backend, "absent")])
        base_cpu = statistics.median(r["cpu_us"] for r in results[(backend, "absent")])
        for mode in MODES:
            runs = results[(backend, mode)]
            median = statistics.median(r["median_us"] for r in runs)
            mean = statistics.median(r["mean_us"] for r in runs)
            cpu = statistics.median(r["cpu_us"] for r in runs)
            print(f"| {backend} | {mode} | {median:.0f} | {mean:.0f} | {median - base:+.0f} "
                  f"({(median / base - 1) * 100:+.1f}%) | {cpu:.0f} | {cpu - base_cpu:+.0f} "
                  f"| {any(r['opentelemetry_loaded'] for r in runs)} |")


if __name__ == "__main__":
    main()
