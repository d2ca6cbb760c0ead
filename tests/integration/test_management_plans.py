"""list_workflows on a large table is served by indexes: PostgreSQL with 1,000,000 rows (bulk-inserted with
INSERT ... SELECT generate_series), SQLite with 50,000 (a recursive CTE). The query plans are checked with EXPLAIN."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_ADMIN_URL, _pg_url, make_config
from tether import DBOS, WorkflowSerializationFormat
from tether.api.filters import workflow_filter
from tether.serialization import serialize
from tether.storage.base import Store

_BLOB = serialize({"args": [1], "kwargs": {}}, WorkflowSerializationFormat.PORTABLE).hex()  # inputs and output
T0 = 1_700_000_000_000  # created_at of the first row (epoch ms); one row per 10 ms after it

# Rows: names n0..n9, every 50th ERROR, every 10th on a queue (every 100th still ENQUEUED), every 7th a child,
# every 1000th forked from the one before.
_ROWS = """
INSERT INTO {schema}workflow_status (workflow_uuid, status, name, executor_id, application_version, created_at,
    updated_at, queue_name, parent_workflow_id, forked_from, authenticated_user, inputs, output, attributes)
SELECT 'wf-' || lpad(i::text, 7, '0'),
       CASE WHEN i % 100 = 0 THEN 'ENQUEUED' WHEN i % 50 = 0 THEN 'ERROR' ELSE 'SUCCESS' END,
       'n' || (i % 10), 'exec-' || (i % 5), 'v' || (i % 3), {t0} + i * 10, {t0} + i * 10,
       CASE WHEN i % 10 = 0 THEN 'q' || (i % 3) END,
       CASE WHEN i % 7 = 0 THEN 'wf-' || lpad((i - 1)::text, 7, '0') END,
       CASE WHEN i % 1000 = 0 THEN 'wf-' || lpad((i - 1)::text, 7, '0') END,
       'user-' || (i % 4), '\\x{blob}'::bytea, '\\x{blob}'::bytea,
       CASE WHEN i % 1000 = 0 THEN '{{"customer": "c' || (i % 7) || '"}}' END
FROM generate_series(1, {n}) AS i
"""

_SQLITE_ROWS = """
INSERT INTO workflow_status (workflow_uuid, status, name, executor_id, application_version, created_at,
    updated_at, queue_name, parent_workflow_id, forked_from, authenticated_user, inputs, output)
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
SELECT 'wf-' || substr('0000000' || i, -7),
       CASE WHEN i % 100 = 0 THEN 'ENQUEUED' WHEN i % 50 = 0 THEN 'ERROR' ELSE 'SUCCESS' END,
       'n' || (i % 10), 'exec-' || (i % 5), 'v' || (i % 3), {t0} + i * 10, {t0} + i * 10,
       CASE WHEN i % 10 = 0 THEN 'q' || (i % 3) END,
       CASE WHEN i % 7 = 0 THEN 'wf-' || substr('0000000' || (i - 1), -7) END,
       CASE WHEN i % 1000 = 0 THEN 'wf-' || substr('0000000' || (i - 1), -7) END,
       'user-' || (i % 4), x'{blob}', x'{blob}'
FROM s
"""

# (description, list_workflows filters) checked on both backends
CASES: list[tuple[str, dict[str, object]]] = [
    ("first page", {"limit": 100}),
    ("newest page", {"limit": 100, "sort_desc": True}),
    ("deep page", {"limit": 100, "offset": 500}),
    ("by name", {"name": "n3", "limit": 100}),
    ("by status", {"status": "ERROR", "limit": 100}),
    ("by queue", {"queue_name": "q1", "limit": 100}),
    ("queued only", {"queues_only": True, "limit": 100}),
    ("by prefix", {"workflow_id_prefix": "wf-00123", "limit": 100}),
    ("by ids", {"workflow_ids": ["wf-0000042", "wf-0000043"]}),
    ("by parent", {"parent_workflow_id": "wf-0000006"}),
    ("by fork origin", {"forked_from": "wf-0000999"}),
    ("time window", {"start_time": "2023-11-14T22:20:00Z", "end_time": "2023-11-14T22:30:00Z", "limit": 100}),
    ("by executor", {"executor_id": "exec-2", "limit": 100}),
    ("by user", {"user": "user-1", "limit": 100, "load_input": False, "load_output": False}),
    ("completed window", {"completed_after": "2023-11-14T22:20:00Z", "completed_before": "2023-11-14T22:30:00Z",
                          "limit": 100}),
    ("dequeued window", {"dequeued_after": "2023-11-14T22:20:00Z", "limit": 100}),
    ("forks only", {"is_fork": True, "limit": 100}),
    ("by application", {"application_name": "app-1", "limit": 100}),
]
# PostgreSQL only: SQLite refuses the attributes filter (as DBOS does).
PG_CASES: list[tuple[str, dict[str, object]]] = [
    ("by attributes", {"attributes": {"customer": "c3"}, "limit": 100}),
]

IN_INDEX_ORDER = {"first page", "newest page", "deep page", "by name", "time window"}


@pytest.fixture(scope="module")
def big_pg(pg_database: str) -> Iterator[str]:
    """A database of its own holding 1,000,000 workflows (dropped afterwards). Asking for ``pg_database``
    applies the suite's rule for a missing server."""
    name = f"tether_big_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    try:
        from tether.storage.postgres.store import PostgresStore

        PostgresStore(url, pool_size=1).close()  # creates the schema
        with psycopg.connect(url, autocommit=True) as conn:
            # Bulk load the usual way: secondary indexes dropped and rebuilt after, no triggers (wake-ups).
            defs = [r[0] for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'tether' AND tablename = 'workflow_status' "
                "AND indexname <> 'workflow_status_pkey'").fetchall()]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'tether' AND "
                                  "tablename = 'workflow_status' AND indexname <> 'workflow_status_pkey'").fetchall():
                conn.execute(f"DROP INDEX tether.{r[0]}")
            conn.execute("SET session_replication_role = replica")
            conn.execute(_ROWS.format(schema="tether.", t0=T0, n=1_000_000, blob=_BLOB))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # rebuild the indexes two at a time
            list(pool.map(lambda d: _build_index(url, d), sorted(defs, key=_slow_first)))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE tether.workflow_status")
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _slow_first(indexdef: str) -> int:
    return 0 if "(status" in indexdef or "(name" in indexdef else 1


def _build_index(url: str, indexdef: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '128MB'")
        conn.execute(indexdef)


def _store() -> Store:
    rt = DBOS._runtime
    assert rt is not None
    return rt.store


def test_postgres_lists_from_a_million_rows_by_index(big_pg: str) -> None:
    DBOS(config=make_config(big_pg))
    DBOS.launch()
    try:
        for what, filters in CASES + PG_CASES:
            plan = _store().explain_list_workflows(workflow_filter(**filters))  # type: ignore[arg-type]
            print(f"-- {what} {filters}\n{plan}")  # shown with pytest -s
            assert "Index" in plan, f"{what}: {plan}"
            assert "Seq Scan on workflow_status" not in plan, f"{what}: {plan}"
        started = time.monotonic()
        page = DBOS.list_workflows(limit=100, offset=1000, load_input=False, load_output=False)
        assert time.monotonic() - started < 1.0
        assert [w.workflow_id for w in page][:2] == ["wf-0001001", "wf-0001002"] and len(page) == 100
        assert page[0].input is None and page[0].output is None
        named = DBOS.list_workflows(name="n3", limit=100, sort_desc=True)
        assert len(named) == 100 and named[0].workflow_id == "wf-0999993"
        assert len(DBOS.list_workflows(workflow_id_prefix="wf-001234")) == 10
        assert [w.workflow_id for w in DBOS.list_workflows(forked_from="wf-0000999")] == ["wf-0001000"]
        assert len(DBOS.list_queued_workflows(queue_name="q1", limit=100)) == 100
        assert len(DBOS.list_workflows(attributes={"customer": "c3"})) == 143  # i % 1000 == 0 and i % 7 == 3
    finally:
        DBOS.destroy()


def test_sqlite_lists_by_index(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "big.sqlite"
    DBOS(config=make_config(f"sqlite:///{path}"))
    DBOS.launch()
    try:
        conn = sqlite3.connect(path)
        sql = _SQLITE_ROWS.format(t0=T0, n=50_000, blob=_BLOB)
        with conn:
            conn.execute(sql)
            conn.execute("ANALYZE")
        conn.close()
        for what, filters in CASES:
            plan = _store().explain_list_workflows(workflow_filter(**filters))  # type: ignore[arg-type]
            scans = [line for line in plan.splitlines() if "workflow_status" in line]
            assert scans, f"{what}: {plan}"
            for line in scans:  # every access to the table goes through an index
                assert "USING" in line or "SEARCH" in line, f"{what}: {plan}"
            if what in IN_INDEX_ORDER:  # and these read the rows in the order returned: no sort at all
                assert "TEMP B-TREE" not in plan, f"{what}: {plan}"
        assert len(DBOS.list_workflows(workflow_id_prefix="wf-001234")) == 10
        assert len(DBOS.list_workflows(name="n3", limit=100)) == 100
    finally:
        DBOS.destroy()
