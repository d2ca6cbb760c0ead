"""The seeds' examples in examples/ run as real programs on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..conftest import PG_ADMIN_URL, _pg_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_checkout_example(db_url: str, tmp_path: Path) -> None:
    out = _run([str(EXAMPLES / "checkout.py"), db_url], tmp_path)
    assert "payment id: pay-order-" in out
    assert "paid with pay-order-" in out


def test_stream_example(db_url: str, tmp_path: Path) -> None:
    out = _run([str(EXAMPLES / "stream_producer_consumer.py"), db_url], tmp_path)
    assert "Received: {'step': 5, 'data': 'value5'}" in out
    assert "values: 5 result: 5" in out


def test_quickstart_runs_with_no_setup(tmp_path: Path) -> None:
    out = _run([str(EXAMPLES / "quickstart.py"), "0.05"], tmp_path, env={"DBOS_SYSTEM_DATABASE_URL": ""})
    assert "result: receipt-order-1001" in out
    assert (tmp_path / "quickstart.sqlite").exists()


def test_quickstart_ctrl_c_during_the_pause_then_rerun_resumes(db_url: str, tmp_path: Path) -> None:
    """What its docstring promises, every time: Ctrl-C during the pause exits cleanly (one line, 130); the next
    run resumes that order after its completed steps; the run after that starts a new order."""
    env = {**os.environ, "DBOS_SYSTEM_DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "quickstart.py"), "3"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        first = []
        for line in proc.stdout:
            first.append(line)
            if "pausing" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:  # never left running (with its database connections) after a failure
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    order = first[0].split()[-1]
    assert first == [f"starting {order}\n", f"  step 1: fetching order {order}\n",
                     "  pausing 3 s: press Ctrl-C now, then run me again\n"]
    assert (proc.returncode, out) == (130, "")
    assert err.strip() == "interrupted: the order stays in the database; run me again to resume it"

    resumed = _run([str(EXAMPLES / "quickstart.py"), "3"], tmp_path, env={"DBOS_SYSTEM_DATABASE_URL": db_url})
    # launch() resumes the order in the background: its step 2 may print before the program's own line
    lines = resumed.splitlines()
    assert sorted(lines[:2]) == sorted([
        f"resuming {order}, interrupted in an earlier run: step 1 is done and is not run again",
        "  step 2: charging 42"])
    assert lines[2:] == [f"result: receipt-{order}"]
    again = _run([str(EXAMPLES / "quickstart.py"), "0"], tmp_path, env={"DBOS_SYSTEM_DATABASE_URL": db_url})
    assert again.splitlines()[:2] == [f"starting {_next(order)}", f"  step 1: fetching order {_next(order)}"]


def _next(order: str) -> str:
    prefix, _, number = order.rpartition("-")
    return f"{prefix}-{int(number) + 1}"


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def test_examples_create_a_missing_postgres_database_or_say_what_to_run(pg_database: str, tmp_path: Path) -> None:
    name = f"tether_example_{uuid.uuid4().hex[:8]}"
    role = f"tether_nocreate_{uuid.uuid4().hex[:8]}"
    try:
        out = _run([str(EXAMPLES / "checkout.py"), _pg_url(name)], tmp_path)
        assert "paid with pay-order-" in out  # the database did not exist: launch() created it
        _admin(f'CREATE ROLE "{role}" LOGIN')
        server = conninfo_to_dict(PG_ADMIN_URL)
        url = f"postgresql://{role}@{server.get('host') or '127.0.0.1'}:{server.get('port') or 5432}/{name}_2"
        proc = subprocess.run([sys.executable, str(EXAMPLES / "checkout.py"), url], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert f"database '{name}_2' does not exist" in proc.stderr and "createdb" in proc.stderr
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(f'DROP ROLE IF EXISTS "{role}"')
