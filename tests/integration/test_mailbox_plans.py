"""The mailbox statements are served by the messages index (destination_uuid, topic, message_id) on both
backends: checked with EXPLAIN on a table of 120,000 queued messages (PostgreSQL) or 70,000 (SQLite), bulk
loaded, so that a planner preferring a sequential scan would show it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from tests.conftest import temporary_pg_database
from tether.storage.base import NULL_TOPIC

WORKFLOWS = 2000
# (statement, parameters, whether the rows must come out of the index in order, without sorting them all).
# wf-1234 holds 50 messages (a planner may fetch and sort those); wf-big holds 20,000: a page of it must be
# read from the index in order.
_PAGE = {"load_values": 1, "limit": 100, "offset": 0}
STATEMENTS: list[tuple[str, dict[str, Any], bool]] = [
    ("pending_messages", {"workflow_uuid": "wf-1234", **_PAGE, "load_values": 0}, False),
    ("pending_messages", {"workflow_uuid": "wf-1234", **_PAGE}, False),
    ("pending_messages_topic", {"workflow_uuid": "wf-1234", "topic": "t3", **_PAGE}, False),
    ("pending_messages", {"workflow_uuid": "wf-big", **_PAGE}, True),
    ("pending_messages_topic", {"workflow_uuid": "wf-big", "topic": "t3", **_PAGE}, True),
    ("pending_message_counts", {"workflow_uuid": "wf-1234"}, False),
    ("pending_message_counts", {"workflow_uuid": "wf-big"}, False),
    ("complete_workflow", {"workflow_uuid": "wf-1234", "status": "SUCCESS", "output": None, "error": None,
                           "now": 1, "now_us": 1000}, False),
]


def _topic(i: str) -> str:
    return f"CASE WHEN {i} % 5 = 0 THEN '{NULL_TOPIC}' ELSE 't' || ({i} % 5) END"


def test_postgres_mailbox_statements_use_the_messages_index(pg_database: str) -> None:
    from tether.storage.postgres.store import PostgresStore

    with temporary_pg_database("tether_mbx_plans") as url:
        PostgresStore(url, pool_size=1).close()  # creates the schema
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET search_path TO tether")
            conn.execute("SET session_replication_role = replica")  # bulk load: no wake-up triggers
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                         f"SELECT 'wf-' || i, 'PENDING', 'n', i, i FROM generate_series(1, {WORKFLOWS}) AS i")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         f"SELECT 'wf-' || (i % {WORKFLOWS} + 1), {_topic('i')}, '\\x4a31'::bytea, i "
                         "FROM generate_series(1, 100000) AS i")
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                         "VALUES ('wf-big', 'PENDING', 'n', 0, 0)")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         f"SELECT 'wf-big', {_topic('i')}, '\\x4a31'::bytea, i FROM generate_series(1, 20000) AS i")
            conn.execute("VACUUM ANALYZE messages")
            conn.execute("ANALYZE workflow_status")
            for name, params, ordered in STATEMENTS:
                sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", PostgresStore.queries[name])
                plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}", params).fetchall())
                print(f"-- {name} {params}\n{plan}")  # shown with pytest -s
                assert "messages_destination_topic" in plan, f"{name}: {plan}"
                assert "Seq Scan on messages" not in plan, f"{name}: {plan}"
                if ordered:
                    assert "Sort" not in plan, f"{name}: {plan}"


def test_sqlite_mailbox_statements_use_the_messages_index(tmp_path: Path) -> None:
    from tether.storage.sqlite.store import SqliteStore

    path = tmp_path / "plans.sqlite"
    SqliteStore(str(path)).close()
    conn = sqlite3.connect(path)
    try:
        with conn:  # foreign keys are off on this connection: a bulk load
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                         f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {WORKFLOWS}) "
                         "SELECT 'wf-' || i, 'PENDING', 'n', i, i FROM s")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50000) "
                         f"SELECT 'wf-' || (i % {WORKFLOWS} + 1), {_topic('i')}, x'4a31', i FROM s")
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                         "VALUES ('wf-big', 'PENDING', 'n', 0, 0)")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) "
                         f"SELECT 'wf-big', {_topic('i')}, x'4a31', i FROM s")
            conn.execute("ANALYZE")
        for name, params, ordered in STATEMENTS:
            plan = "\n".join(str(r[-1]) for r in conn.execute(
                f"EXPLAIN QUERY PLAN {SqliteStore.queries[name]}", params).fetchall())
            assert "messages_destination_topic" in plan, f"{name}: {plan}"
            for line in plan.splitlines():
                if "messages" in line and "SCAN" in line:
                    assert "INDEX" in line, f"{name}: {plan}"
            if ordered:
                assert "TEMP B-TREE" not in plan, f"{name}: {plan}"
    finally:
        conn.close()
