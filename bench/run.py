"""Run the benchmark suite against tether and/or dbos, on PostgreSQL and/or SQLite.

    python bench/run.py [--quick] [--impl both|tether|dbos] [--backend both|postgres|sqlite]
                        [--scenarios wf_seq,stream,...] [--python-tether PY] [--python-dbos PY]
                        [--out bench/results]

Every (implementation, backend, scenario variant) runs in its own subprocess (``python -m bench.worker``)
on a fresh database, because DBOS is a process-wide singleton. Writes ``<out>/latest.json``,
``<out>/latest.md`` and one log per subprocess under ``<out>/logs/``. Results of runs not repeated
this time (same mode) are carried over from the previous ``latest.json`` unless ``--no-merge``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402  (needs ROOT on sys.path when run as a script)

Variant = dict[str, Any]

# Scenario sizes per mode. A variant may restrict itself to some backends with "backends", to some
# implementations with "impls" (or run with no library: "impl": "none"), and take longer than --timeout
# with "timeout_s". The longest items come last (100,000 waiters), so a run cut short keeps the rest
# (partial.json is written after each item).
# "full" takes about 8 minutes for both implementations on both backends on 2 cores (the budget is 10);
# the largest single item is dbos with 10,000 waiters (PostgreSQL only), which is capped at ``cap_s``
# seconds and then reported as a lower bound. Sizes were trimmed until a further cut moved medians by
# more than the run-to-run drift of this shared machine.
FAST_POLL = {"notification_listener_polling_interval_sec": 0.001}  # dbos's fastest documented polling
LATENCY_QUICK = {"n": 10, "reps": 3, "budget_s": 9, "min_n": 3, "warmup": 1}
LATENCY_FULL = {"n": 40, "reps": 3, "budget_s": 15, "min_n": 5, "warmup": 2}

PLAN: dict[str, dict[str, list[Variant]]] = {
    "floor": {
        "quick": [{"n": 10, "reps": 3, "impl": "none"}],
        "full": [{"n": 40, "reps": 3, "impl": "none"}],
    },
    "wf_seq": {
        "quick": [{"n": 40, "reps": 3, "warmup": 10}],
        "full": [{"n": 200, "reps": 5}],
    },
    "wf_concurrent": {
        "quick": [{"inflight": [32, 256], "per_slot": 1, "min_total": 64, "reps": 1}],
        "full": [{"inflight": [32, 256], "per_slot": 1, "min_total": 96, "reps": 3}],
    },
    "send_recv_latency": {
        "quick": [LATENCY_QUICK, {**LATENCY_QUICK, "config": FAST_POLL, "backends": ["sqlite"], "impls": ["dbos"]}],
        "full": [LATENCY_FULL, {**LATENCY_FULL, "config": FAST_POLL, "backends": ["sqlite"], "impls": ["dbos"]}],
    },
    "select_latency": {
        "quick": [{"n": 15, "budget_s": 8, "min_n": 5, "warmup": 1, "impl": "tether"}],
        "full": [{"n": 60, "budget_s": 20, "min_n": 10, "warmup": 2, "impl": "tether"}],
    },
    "event_latency": {
        "quick": [LATENCY_QUICK, {**LATENCY_QUICK, "config": FAST_POLL, "backends": ["sqlite"], "impls": ["dbos"]}],
        "full": [LATENCY_FULL, {**LATENCY_FULL, "config": FAST_POLL, "backends": ["sqlite"], "impls": ["dbos"]}],
    },
    "event_watch": {
        "quick": [{"noise": 300, "versions": 15, "impls": ["tether"]}],
        "full": [{"noise": 1000, "versions": 40, "impls": ["tether"]}],
    },
    "queue_throughput": {
        "quick": [{"n": 60, "reps": 1}],
        "full": [{"n": 200, "reps": 3}],
    },
    "stream": {
        "quick": [{"n": 200, "reps": 3}, {"n": 200, "reps": 3, "config": FAST_POLL, "backends": ["sqlite"],
                                          "impls": ["dbos"]}],
        "full": [{"n": 500, "reps": 3}, {"n": 500, "reps": 3, "config": FAST_POLL, "backends": ["sqlite"],
                                         "impls": ["dbos"]}],
    },
    "recovery": {
        "quick": [{"n": 50, "lead_s": 6}],
        "full": [{"n": 200, "lead_s": 7}],
    },
    "pg_limit": {
        "quick": [{"duration_s": 0.5, "reps": 2, "backends": ["postgres"], "impl": "none"}],
        "full": [{"duration_s": 1.5, "reps": 3, "backends": ["postgres"], "impl": "none"}],
    },
    "sse_readers": {
        "quick": [{"readers": 500, "values": 10, "backends": ["postgres"], "impls": ["tether"]}],
        "full": [{"readers": 10000, "values": 20, "backends": ["postgres"], "impls": ["tether"],
                  "timeout_s": 600}],
    },
    "many_waiting": {
        "quick": [{"waiters": 100}, {"waiters": 1000, "backends": ["postgres"], "impls": ["tether"]}],
        "full": [{"waiters": 100}, {"waiters": 1000}, {"waiters": 10000, "cap_s": 150, "backends": ["postgres"]},
                 {"waiters": 100000, "cap_s": 1200, "backends": ["postgres"], "impls": ["tether"],
                  "timeout_s": 1500}],
    },
}
# Keys of a variant that steer the driver rather than the scenario.
DRIVER_KEYS = ("backends", "impl", "impls", "timeout_s")

BENCHVENV_PYTHON = "/tmp/benchvenv/bin/python"


def _can_import(python: str, modules: list[str]) -> bool:
    code = "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))"
    try:
        return subprocess.run([python, "-c", code, *modules], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def default_python(modules: list[str]) -> str:
    """This interpreter if it has ``modules``, else the bench venv's (see README), else this one anyway."""
    for python in (sys.executable, os.environ.get("BENCH_PYTHON", ""), BENCHVENV_PYTHON):
        if python and os.path.exists(python) and _can_import(python, modules):
            return python
    return sys.executable


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    p.add_argument("--impl", choices=["both", "tether", "dbos"], default="both")
    p.add_argument("--backend", choices=["both", "postgres", "sqlite"], default="both")
    p.add_argument("--scenarios", default=",".join(PLAN), help="comma-separated subset of: " + ", ".join(PLAN))
    p.add_argument("--python-tether", help="interpreter for tether runs (default: this one if it has psycopg "
                   f"and psutil, else {BENCHVENV_PYTHON}); tether itself comes from src/ via PYTHONPATH")
    p.add_argument("--python-dbos", help="interpreter for dbos runs (default: this one if it has dbos and "
                   f"psutil, else {BENCHVENV_PYTHON})")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--timeout", type=float, default=400.0, help="seconds before one subprocess is killed")
    p.add_argument("--no-merge", action="store_true", help="do not carry over results from latest.json")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every case this many times, the implementations of a case taking turns (tether, "
                        "dbos, tether, dbos...), and report each metric's median over the rounds: robust "
                        "ratios on a machine whose load drifts between the two runs of a case")
    return p.parse_args(argv)


def run_key(rec: dict[str, Any]) -> str:
    return json.dumps([rec["impl"], rec["backend"], rec["scenario"], rec["params"]], sort_keys=True)


def jobs(args: argparse.Namespace) -> list[tuple[str, str, str, Variant, float]]:
    """(scenario, backend, impl, params, timeout or 0) in run order: both implementations of a case back to
    back."""
    mode = "quick" if args.quick else "full"
    impls = ["tether", "dbos"] if args.impl == "both" else [args.impl]
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(wanted) - set(PLAN)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    out = []
    for scenario in wanted:
        for variant in PLAN[scenario][mode]:
            params = {k: v for k, v in variant.items() if k not in DRIVER_KEYS}
            for backend in backends:
                if backend not in variant.get("backends", backends):
                    continue
                for impl in [variant["impl"]] if "impl" in variant else impls:
                    if impl in variant.get("impls", [impl]):
                        out.append((scenario, backend, impl, params, float(variant.get("timeout_s", 0))))
    return out


def drop_leftover_database(impl: str, scenario: str, pid: int) -> None:
    """After a killed worker: drop the database it could not drop itself (best effort)."""
    try:
        import psycopg

        base = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "bench_{impl}_{scenario}_{pid}" WITH (FORCE)')
    except Exception as exc:  # the driver must not fail because of cleanup
        print(f"(could not drop bench_{impl}_{scenario}_{pid}: {exc})", end=" ")


def run_one(args: argparse.Namespace, scenario: str, backend: str, impl: str, params: Variant,
            log_path: Path, timeout: float) -> dict[str, Any]:
    # pg_limit ("none") only needs psycopg, which both interpreters have.
    python = args.python_tether if impl == "tether" or (impl == "none" and args.impl == "tether") \
        else args.python_dbos
    paths = [str(ROOT)] + ([str(ROOT / "src")] if impl == "tether" else [])
    env = {**os.environ, "BENCH_IMPL": impl,
           "PYTHONPATH": os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    with tempfile.TemporaryDirectory() as tmp:
        result_path = Path(tmp, "result.json")
        cmd = [python, "-m", "bench.worker", "--scenario", scenario, "--backend", backend,
               "--params", json.dumps(params), "--result", str(result_path)]
        with open(log_path, "w") as log:
            # A session of its own, so a timeout kills the worker and any child it started.
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                proc.wait(timeout=max(timeout, args.timeout))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                if backend == "postgres":
                    drop_leftover_database(impl, scenario, proc.pid)
        if result_path.exists():
            record: dict[str, Any] = json.loads(result_path.read_text())
        else:
            tail = log_path.read_text()[-2000:]
            record = {"scenario": scenario, "impl": impl, "backend": backend, "params": params,
                      "error": f"no result (timeout {max(timeout, args.timeout)}s or crash); log tail:\n{tail}"}
    record["log"] = str(log_path.relative_to(ROOT) if log_path.is_relative_to(ROOT) else log_path)
    return record


def merge_rounds(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per case: each metric the median of its rounds (every round's value kept in the detail)."""
    merged: dict[str, dict[str, Any]] = {}
    for rec in records:
        key = run_key(rec)
        if rec.get("error"):
            merged.setdefault(key, rec)
            continue
        into = merged.get(key)
        if into is None or into.get("error"):
            merged[key] = {**rec, "metrics": [{**m, "detail": {**m["detail"], "rounds": [m["value"]]}}
                                              for m in rec["metrics"]]}
            continue
        by_name = {m["name"]: m for m in into["metrics"]}
        for m in rec["metrics"]:
            if m["name"] in by_name:
                by_name[m["name"]]["detail"]["rounds"].append(m["value"])
    for rec in merged.values():
        for m in rec.get("metrics", []):
            rounds = [v for v in m["detail"].get("rounds", []) if v == v]  # NaN-free
            if rounds:
                m["value"] = statistics.median(rounds)
    return list(merged.values())


def versions(records: list[dict[str, Any]]) -> dict[str, str]:
    found = {r["impl"]: r["version"] for r in records if r.get("version")}
    found["python"] = platform.python_version()
    for r in records:
        for m in r.get("metrics", []):
            if "server_version" in m.get("detail", {}):
                found["postgres"] = m["detail"]["server_version"].split()[0]
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.python_tether = args.python_tether or default_python(["psycopg", "psutil"])
    args.python_dbos = args.python_dbos or default_python(["dbos", "psycopg", "psutil"])
    print(f"interpreters: tether {args.python_tether}, dbos {args.python_dbos}", flush=True)
    mode = "quick" if args.quick else "full"
    out: Path = args.out.resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    todo = jobs(args)
    if args.rounds > 1:  # each case's implementations back to back, the whole case repeated in turns
        cases: dict[str, list[tuple[str, str, str, Variant, float]]] = {}
        for job in todo:
            cases.setdefault(json.dumps([job[0], job[1], job[3]], sort_keys=True), []).append(job)
        todo = [job for group in cases.values() for _ in range(args.rounds) for job in group]

    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    for i, (scenario, backend, impl, params, timeout) in enumerate(todo, 1):
        label = f"{impl}-{backend}-{scenario}" + (f"-round{1 + sum(1 for j in todo[:i - 1] if j == todo[i - 1])}"
                                                   if args.rounds > 1 else "")
        if len(PLAN[scenario][mode]) > 1:
            label += "-" + "-".join(f"{k}{v}" for k, v in params.items() if k != "config")
            if "config" in params:
                label += "-" + "-".join(f"{k}{v}" for k, v in params["config"].items())
        print(f"[{i}/{len(todo)}] {label} ...", end=" ", flush=True)
        t = time.perf_counter()
        record = run_one(args, scenario, backend, impl, params, out / "logs" / f"{label}.log", timeout)
        record["mode"] = mode
        records.append(record)
        status = "FAILED: " + record["error"].splitlines()[0] if record.get("error") else "ok"
        print(f"{time.perf_counter() - t:.1f}s {status}", flush=True)
        # What is done so far, so that a run cut short (a deadline, a crash of the driver) leaves its results.
        (out / "partial.json").write_text(json.dumps({"done": i, "of": len(todo), "results": records},
                                                     indent=2, default=str) + "\n")

    if args.rounds > 1:
        records = merge_rounds(records)
    latest = out / "latest.json"
    if not args.no_merge and latest.exists():
        previous = json.loads(latest.read_text())
        done = {run_key(r) for r in records}
        # Only variants the current PLAN still has: a record with other sizes would sit beside (or stand
        # in for) this run's row of the same metric.
        current = {json.dumps([s, {k: v for k, v in variant.items() if k not in DRIVER_KEYS}],
                              sort_keys=True)
                   for s, modes in PLAN.items() for variant in modes[mode]}
        if previous.get("meta", {}).get("mode") == mode:
            for r in previous.get("results", []):
                if (run_key(r) not in done and not r.get("error") and not r.get("from_previous_run")
                        and json.dumps([r["scenario"], r["params"]], sort_keys=True) in current):
                    records.append({**r, "from_previous_run": True})

    order = list(PLAN)
    records.sort(key=lambda r: order.index(r["scenario"]) if r["scenario"] in order else len(order))
    meta = {
        "mode": mode,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - started, 1),
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "versions": versions(records),
        "interpreters": {"tether": args.python_tether, "dbos": args.python_dbos},
    }
    latest.write_text(json.dumps({"meta": meta, "results": records}, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(report.render(meta, records))
    (out / "partial.json").unlink(missing_ok=True)
    print(f"wrote {latest} and {out / 'latest.md'} in {meta['wall_s']}s")
    return 1 if any(r.get("error") for r in records if not r.get("from_previous_run")) else 0


if __name__ == "__main__":
    sys.exit(main())
