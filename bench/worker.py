"""Run one scenario in this process and write its result as JSON.

    BENCH_IMPL=dbos python -m bench.worker --scenario wf_seq --backend sqlite --params '{"n": 50}' \\
        --result /tmp/r.json

``bench/run.py`` starts one such process per (implementation, backend, scenario), because DBOS is a
process-wide singleton with a global workflow registry. The process creates a fresh database (unless
``--url`` names one, as the recovery scenario does for its crashing child) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import sys
import time
import traceback
from importlib import metadata
from typing import Any

from bench.common import IMPL, database


def impl_version() -> str:
    if IMPL not in ("tether", "dbos"):
        return ""
    try:
        return metadata.version(IMPL)
    except metadata.PackageNotFoundError:
        module = importlib.import_module(IMPL)
        return str(getattr(module, "__version__", "unknown"))


def run_scenario(name: str, backend: str, url: str | None, params: dict[str, Any]) -> list[Any]:
    module = importlib.import_module(f"bench.scenarios.{name}")
    if url is not None:
        return list(module.run(url, **params))
    with database(backend, f"{IMPL}_{name}") as fresh_url:
        return list(module.run(fresh_url, **params))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], required=True)
    parser.add_argument("--params", default="{}", help="JSON object of keyword arguments for the scenario")
    parser.add_argument("--url", help="use this database instead of creating a fresh one")
    parser.add_argument("--result", help="write the JSON result here (default: stdout)")
    args = parser.parse_args(argv)
    params = json.loads(args.params)

    record: dict[str, Any] = {
        "scenario": args.scenario,
        "impl": IMPL,
        "backend": args.backend,
        "params": params,
        "python": platform.python_version(),
    }
    started = time.perf_counter()
    status = 0
    try:
        metrics = run_scenario(args.scenario, args.backend, args.url, params)
        record["metrics"] = [dataclasses.asdict(m) for m in metrics]
    except BaseException as exc:  # report every failure (even KeyboardInterrupt) as a result record
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
        status = 1
    record["version"] = impl_version()
    record["wall_s"] = round(time.perf_counter() - started, 3)

    text = json.dumps(record, indent=2, default=str)
    if args.result:
        with open(args.result, "w") as f:
            f.write(text)
    else:
        print(text)
    module = sys.modules.get(f"bench.scenarios.{args.scenario}")
    if getattr(module, "HARD_EXIT", False):
        # The scenario left the library running on purpose (a capped run with work still pending whose
        # threads would keep the interpreter from exiting): the result is written, so leave now.
        print(f"{args.scenario}: capped run, exiting without shutting the library down", flush=True)
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
