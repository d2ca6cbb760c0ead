"""The select's message take is served by the messages index (destination_uuid, topic, message_id) on both
backends, however many messages wait: EXPLAIN on a table of 60,000 queued messages, 20,000 of them on one
topic of the selecting workflow, bulk loaded so that a planner preferring a scan or a sort would show it."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import psycopg

from tests.conftest import temporary_pg_database

TOPICS = ["t0", "t1", "t2", "t3"]


def test_postgres_select_take_uses_the_messages_index(pg_database: str) -> None:
    from tether.storage.postgres.store import PostgresStore

    with temporary_pg_database("tether_select_plans") as url:
        PostgresStore(url, pool_size=1).close()  # creates the schema
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET search_path TO tether")
            conn.execute("SET session_replication_role = replica")  # bulk load: no wake-up triggers
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                         "SELECT 'wf-' || i, 'PENDING', 'n', i, i FROM generate_series(1, 1000) AS i")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         "SELECT 'wf-' || (i % 1000 + 1), 't' || (i % 5), '\\x4a31'::bytea, i "
                         "FROM generate_series(1, 40000) AS i")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         "SELECT 'wf-7', 't3', '\\x4a31'::bytea, i FROM generate_series(1, 20000) AS i")
            conn.execute("VACUUM ANALYZE messages")
            params = {"workflow_uuid": "wf-7", "function_id": 3, "function_name": "DBOS.select", "started_at": 1,
                      "completed_at": 1, "topics": json.dumps(TOPICS),
                      "headers": json.dumps([{"index": i} for i in range(4)]), "also_function_id": None,
                      "also_function_name": None, "also_output": None, "also_started_at": None,
                      "also_completed_at": None}
            sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", PostgresStore.queries["take_selected_message"])
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}", params).fetchall())
            print(plan)  # shown with pytest -s
            assert "messages_destination_topic" in plan, plan
            assert "Seq Scan on messages" not in plan, plan
            assert not re.search(r"Sort.*\n.*messages", plan), plan  # never sorts the waiting messages


def test_sqlite_select_take_uses_the_messages_index(tmp_path: Path) -> None:
    from tether.storage.selectstore import _first_message_sql
    from tether.storage.sqlite.store import SqliteStore

    path = tmp_path / "plans.sqlite"
    SqliteStore(str(path)).close()
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000) "
                         "SELECT 'wf-' || i, 'PENDING', 'n', i, i FROM s")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40000) "
                         "SELECT 'wf-' || (i % 1000 + 1), 't' || (i % 5), x'4a31', i FROM s")
            conn.execute("INSERT INTO messages (destination_uuid, topic, message, created_at) "
                         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) "
                         "SELECT 'wf-7', 't3', x'4a31', i FROM s")
        conn.execute("ANALYZE")
        args: list[str] = []
        for topic in TOPICS:
            args += ("wf-7", topic)
        plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + _first_message_sql(len(TOPICS), "?"), args)]
        print(plan)
        assert sum("COVERING INDEX messages_destination_topic" in p for p in plan) == len(TOPICS), plan
        assert not any(p.startswith("SCAN") or "TEMP B-TREE" in p for p in plan), plan
        row = conn.execute(_first_message_sql(len(TOPICS), "?"), args).fetchone()
        oldest = {t: conn.execute("SELECT min(message_id) FROM messages WHERE destination_uuid = 'wf-7' AND "
                                  "topic = ?", (t,)).fetchone()[0] for t in TOPICS}
        expected = next(t for t in TOPICS if oldest[t] is not None)
        assert expected != TOPICS[0]  # an empty topic comes first
        assert (row[0], row[1]) == (expected, oldest[expected])  # the first topic in list order holding one
    finally:
        conn.close()
