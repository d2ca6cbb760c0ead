"""PostgreSQL's wake-up triggers: every write a waiter may care about notifies channel 'tether' with JSON
[kind, workflow_id, key] in the writing transaction -- also from a session whose search_path lacks the tether
schema (a bulk load, psql), and shortened to [kind, workflow_id prefix] when the key would overflow pg_notify."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import make_config
from tether import DBOS


@pytest.fixture
def launched_pg(pg_database: str) -> Iterator[str]:
    DBOS(config=make_config(pg_database))
    DBOS.launch()
    try:
        yield pg_database
    finally:
        DBOS.destroy()


@DBOS.workflow()
def parked() -> None:
    DBOS.recv("never", timeout_seconds=60)


def _notes(listen: psycopg.Connection[tuple[object, ...]], count: int) -> list[list[str]]:
    got: list[list[str]] = []
    for note in listen.notifies(timeout=10):
        got.append(json.loads(note.payload))
        if len(got) == count:
            break
    return got


def test_writes_from_a_session_without_the_tether_search_path_notify(launched_pg: str) -> None:
    wfid = DBOS.start_workflow(parked).workflow_id
    with psycopg.connect(launched_pg, autocommit=True) as listen, \
            psycopg.connect(launched_pg, autocommit=True) as writer:
        listen.execute("LISTEN tether")
        writer.execute("SET search_path TO public")
        writer.execute("INSERT INTO tether.messages (destination_uuid, topic, message, created_at) "
                       "VALUES (%s, 't', '\\x00', 0)", (wfid,))
        writer.execute("INSERT INTO tether.workflow_events (workflow_uuid, key, value, updated_at) "
                       "VALUES (%s, 'e', '\\x00', 0)", (wfid,))
        writer.execute("INSERT INTO tether.streams (workflow_uuid, key, seq, value, created_at) "
                       "VALUES (%s, 's', 0, '\\x00', 0)", (wfid,))
        writer.execute("UPDATE tether.workflow_status SET status = 'CANCELLED' WHERE workflow_uuid = %s", (wfid,))
        assert _notes(listen, 4) == [["msg", wfid, "t"], ["event", wfid, "e"], ["stream", wfid, "s"],
                                     ["wf", wfid, "CANCELLED"]]


def test_a_payload_too_long_for_pg_notify_is_shortened(launched_pg: str) -> None:
    wfid = DBOS.start_workflow(parked).workflow_id
    with psycopg.connect(launched_pg, autocommit=True) as listen, \
            psycopg.connect(launched_pg, autocommit=True) as writer:
        listen.execute("LISTEN tether")
        writer.execute("INSERT INTO tether.workflow_events (workflow_uuid, key, value, updated_at) "
                       "VALUES (%s, %s, '\\x00', 0)", (wfid, "k" * 8000))
        assert _notes(listen, 1) == [["event", wfid]]
    DBOS.cancel_workflow(wfid)
