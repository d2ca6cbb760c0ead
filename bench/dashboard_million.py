"""The dashboard on a database of a million workflows: time to the first page of /ui's list API, and to the
first page rendered in headless Chromium, on SQLite and PostgreSQL (tether only).

    PYTHONPATH=src python3 bench/dashboard_million.py                 # both backends, 1,000,000 workflows
    PYTHONPATH=src python3 bench/dashboard_million.py --backend sqlite --rows 200000
    PYTHONPATH=src python3 bench/dashboard_million.py --keep          # keep the database (its URL is printed)

The database is filled by a fast path of this bench only (one multi-row INSERT per 5,000 rows on SQLite, COPY
on PostgreSQL, triggers off while filling): 1,000,000 workflows created over 30 days, 20 names, 85% SUCCESS, 7%
ERROR, 3% CANCELLED, 3% PENDING, 2% ENQUEUED, 30% on one of 5 queues, 10% with attributes, a small JSON input
and output each. Then ``tether serve``'s gateway (over a ``DBOSClient``) answers, on a thread:

- the list request the dashboard makes for its first page (``limit=51``, no inputs or outputs), and the same
  with each filter of the page (status, rare status, name, queue, ID prefix, time range, attributes): the
  first (cold) answer and the median of 5;
- ``/queues`` (a grouped count of unfinished workflows);
- the page itself: ``/ui/`` opened in Debian's Chromium (Playwright) until the first page of rows is on screen,
  median of 5 fresh browser contexts.

It prints each list query's plan (PostgreSQL ``EXPLAIN``, SQLite ``EXPLAIN QUERY PLAN``) so that a filter not
served by an index shows, and writes the numbers to ``bench/results/dashboard_million.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from tether import DBOSClient  # noqa: E402
from tether.api.management import workflow_filter  # noqa: E402
from tether.config import parse_database_url  # noqa: E402
from tether.http import create_gateway  # noqa: E402
from tether.http.server import ServerThread  # noqa: E402
from tether.storage import open_store  # noqa: E402
from tether.storage.provision import create_database  # noqa: E402

PG = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
DAY_MS = 86_400_000
NAMES = [f"app.workflows.job_{i:02d}" for i in range(20)]
QUEUES = [f"queue_{i}" for i in range(5)]
STATUSES = ["SUCCESS"] * 85 + ["ERROR"] * 7 + ["CANCELLED"] * 3 + ["PENDING"] * 3 + ["ENQUEUED"] * 2
COLUMNS = ("workflow_uuid", "status", "name", "created_at", "updated_at", "completed_at", "queue_name",
           "inputs", "output", "executor_id", "application_version", "application_name", "serialization",
           "attributes")
TOKEN = "bench-dashboard-token"


def rows(n: int, now_ms: int, seed: int = 7) -> list[tuple[Any, ...]]:
    rnd = random.Random(seed)
    out = []
    start = now_ms - 30 * DAY_MS
    for i in range(n):
        created = start + (30 * DAY_MS * i) // n + rnd.randrange(1000)
        status = rnd.choice(STATUSES)
        ended = status in ("SUCCESS", "ERROR", "CANCELLED")
        queue = rnd.choice(QUEUES) if rnd.random() < 0.3 or status == "ENQUEUED" else None
        attrs = json.dumps({"tenant": f"t{rnd.randrange(50)}"}) if rnd.random() < 0.1 else None
        out.append((str(uuid.UUID(int=rnd.getrandbits(128), version=4)), status, rnd.choice(NAMES), created,
                    created + (rnd.randrange(5000) if ended else 0), created + 100 if ended else None, queue,
                    b'J{"args":[%d],"kwargs":{}}' % i, b'J{"ok":true}' if status == "SUCCESS" else None,
                    "bench-executor", "v1", "bench", "portable_json", attrs))
    return out


def fill_sqlite(path: str, data: list[tuple[Any, ...]]) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                            "AND tbl_name = 'workflow_status'").fetchall()
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f'DROP TRIGGER "{name}"')
    batch = 5000
    one = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    for i in range(0, len(data), batch):
        chunk = data[i:i + batch]
        conn.execute(f"INSERT INTO workflow_status ({', '.join(COLUMNS)}) VALUES " + ", ".join([one] * len(chunk)),
                     [v for r in chunk for v in r])
    for _, sql in triggers:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def fill_postgres(url: str, data: list[tuple[Any, ...]]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no per-row triggers (notifications) here
        with conn.cursor() as cur, cur.copy(f"COPY tether.workflow_status ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for r in data:
                cp.write_row(r)
        conn.execute("VACUUM ANALYZE tether.workflow_status")


def list_requests(now_ms: int, sample_id: str) -> dict[str, dict[str, Any]]:
    base = {"limit": 51, "offset": 0, "load_input": "false", "load_output": "false"}
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now_ms - 10 * DAY_MS) / 1000))
    iso2 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now_ms - 9 * DAY_MS) / 1000))
    return {
        "first page": base,
        "status=ERROR": {**base, "status": "ERROR"},
        "status=ENQUEUED (2%)": {**base, "status": "ENQUEUED"},
        "status that no workflow has": {**base, "status": "MAX_RECOVERY_ATTEMPTS_EXCEEDED"},
        "name": {**base, "name": NAMES[3]},
        "queue": {**base, "queue_name": QUEUES[1]},
        "ID prefix": {**base, "workflow_id_prefix": sample_id[:4]},
        "one day": {**base, "start_time": iso, "end_time": iso2},
        "attributes": {**base, "attributes": json.dumps({"tenant": "t7"})},
        "page 100": {**base, "offset": 5000},
    }


def plans(url: str, backend: str, requests: dict[str, dict[str, Any]]) -> dict[str, str]:
    store = open_store(parse_database_url(url))
    out = {}
    try:
        for label, params in requests.items():
            args: dict[str, Any] = {"limit": params["limit"], "offset": params["offset"], "sort_desc": True,
                                    "load_input": False, "load_output": False}
            for key in ("status", "name", "queue_name", "workflow_id_prefix", "start_time", "end_time"):
                if key in params:
                    args[key] = params[key]
            if "attributes" in params:
                args["attributes"] = json.loads(params["attributes"])
            out[label] = store.explain_list_workflows(workflow_filter(**args))
    finally:
        store.close()
    return out


def timed_get(client: httpx.Client, url: str, params: dict[str, Any]) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = client.get(url, params=params, headers={"Authorization": f"Bearer {TOKEN}"})
    took = (time.perf_counter() - t0) * 1000
    assert r.status_code == 200, r.text
    return took, len(r.json().get("workflows", r.json().get("queues", [])))


def browser_times(server_url: str, requests: dict[str, dict[str, Any]], reps: int) -> dict[str, Any]:
    """In Chromium: the page until its first 50 rows are on screen (fresh context each time), with where the
    time went (resource timings of the first load), and each list request as ``fetch`` from the page."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"render_ms": [], "list_ms": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            for i in range(reps):
                context = browser.new_context()
                context.add_init_script(f"sessionStorage.setItem('tether.dashboard.token', '{TOKEN}')")
                page = context.new_page()
                t0 = time.perf_counter()
                page.goto(f"{server_url}/ui/")
                page.wait_for_selector("#workflow-rows tr:nth-child(50)", timeout=60_000)
                out["render_ms"].append(round((time.perf_counter() - t0) * 1000, 1))
                if i == 0:
                    out["first_load_resources"] = page.evaluate(
                        "() => performance.getEntriesByType('resource').map(e => "
                        "[e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.duration)])")
                if i == reps - 1:
                    for label, params in requests.items():
                        q = httpx.QueryParams(params)
                        out["list_ms"][label] = page.evaluate(
                            """async ([url, token]) => { const t = []; for (let i = 0; i < 6; i++) {
                                 const t0 = performance.now();
                                 const r = await fetch(url, {headers: {Authorization: 'Bearer ' + token}});
                                 await r.json(); t.push(performance.now() - t0); } return t; }""",
                            [f"/workflows?{q}", TOKEN])
                context.close()
        finally:
            browser.close()
    return out


def run(backend: str, n: int, keep: bool) -> dict[str, Any]:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="tether-dash-")
        url = f"sqlite:///{folder}/million.sqlite"
    else:
        url = f"{PG}/bench_dashboard_{os.getpid()}"
    create_database(parse_database_url(url))
    open_store(parse_database_url(url)).close()  # the schema, by the migrations
    now_ms = int(time.time() * 1000)
    t0 = time.perf_counter()
    data = rows(n, now_ms)
    t1 = time.perf_counter()
    (fill_sqlite(url[len("sqlite:///"):], data) if backend == "sqlite" else fill_postgres(url, data))
    t2 = time.perf_counter()
    print(f"[{backend}] {n:,} workflows generated in {t1 - t0:.1f}s, inserted in {t2 - t1:.1f}s ({url})",
          flush=True)
    requests = list_requests(now_ms, data[n // 2][0])
    del data
    result: dict[str, Any] = {"backend": backend, "workflows": n, "fill_seconds": round(t2 - t1, 1),
                              "load_average_before": os.getloadavg(),
                              "list_ms": {}, "plans": plans(url, backend, requests)}
    for label, plan in result["plans"].items():
        print(f"  plan [{label}]: {' | '.join(plan.splitlines())[:300]}")
    client_api = DBOSClient(url)
    try:
        with ServerThread(create_gateway(client_api, token=TOKEN)) as server:
            if Path("/usr/bin/chromium").exists():
                seen = browser_times(server.url, requests, 5)
                shown = seen["render_ms"]
                result["render_ms"] = {"first": shown[0], "median": statistics.median(shown), "all": shown}
                result["first_load_resources"] = seen["first_load_resources"]
                print(f"  /ui/ until the first 50 rows are on screen: first {shown[0]:.0f} ms, median "
                      f"{statistics.median(shown):.0f} ms; first load: {seen['first_load_resources']}", flush=True)
                for label, times in seen["list_ms"].items():
                    result["list_ms"][label] = {"cold": round(times[0], 1),
                                                "median": round(statistics.median(times[1:]), 1)}
                    print(f"  fetch /workflows [{label}] from the page: first {times[0]:.1f} ms, median "
                          f"{statistics.median(times[1:]):.1f} ms", flush=True)
            with httpx.Client(timeout=120) as http:  # (httpx here adds ~40 ms per kept-alive request)
                q = [timed_get(http, f"{server.url}/queues", {})[0] for _ in range(6)]
            result["queues_ms"] = {"cold": round(q[0], 1), "median": round(statistics.median(q[1:]), 1)}
            print(f"  GET /queues (httpx): first {q[0]:.1f} ms, median {statistics.median(q[1:]):.1f} ms", flush=True)
        for label, params in requests.items():  # the query alone, in process, as the route makes it
            args = {k: v for k, v in params.items() if k not in ("load_input", "load_output")}
            if "attributes" in args:
                args["attributes"] = json.loads(args["attributes"])
            t = []
            for _ in range(6):
                t0 = time.perf_counter()
                client_api.list_workflows(**args, sort_desc=True, load_input=False, load_output=False)
                t.append((time.perf_counter() - t0) * 1000)
            result["list_ms"].setdefault(label, {})["query_only_median"] = round(statistics.median(t[1:]), 1)
            result["list_ms"][label]["query_only_cold"] = round(t[0], 1)
            print(f"  list_workflows [{label}] in process: first {t[0]:.1f} ms, median "
                  f"{statistics.median(t[1:]):.1f} ms", flush=True)
    finally:
        client_api.destroy()
    result["load_average_after"] = os.getloadavg()
    print(f"  load average (1, 5, 15 min): before {result['load_average_before']}, after "
          f"{result['load_average_after']} (2 cores, shared)", flush=True)
    if not keep and backend == "postgres":
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "bench_dashboard_{os.getpid()}" WITH (FORCE)')
    elif not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the filled database")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "dashboard_million.json"))
    args = parser.parse_args()
    results = [run(b, args.rows, args.keep) for b in (["sqlite", "postgres"] if args.backend == "both"
                                                      else [args.backend])]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
