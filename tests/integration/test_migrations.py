"""Migrations: idempotent, and safe when several processes launch on a fresh database at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg

from tether.config import parse_database_url
from tether.storage import open_store
from tether.storage.sql import load_migrations


def test_migrations_are_idempotent(fresh_url: str) -> None:
    db = parse_database_url(fresh_url)
    first = open_store(db)
    applied = first.applied_migrations()  # type: ignore[attr-defined]
    first.close()
    second = open_store(db)
    assert second.applied_migrations() == applied  # type: ignore[attr-defined]
    second.close()
    package = "tether.storage.sqlite" if db.backend == "sqlite" else "tether.storage.postgres"
    assert applied == [v for v, _, _ in load_migrations(package)]


def test_concurrent_launches_on_a_fresh_database(fresh_url: str) -> None:
    script = (
        "import sys\n"
        "from tether import DBOS\n"
        "DBOS(config={'name': 'm', 'system_database_url': sys.argv[1], 'executor_id': sys.argv[2]})\n"
        "DBOS.launch()\n"
        "@DBOS.workflow()\n"
        "def ok() -> int:\n"
        "    return 1\n"
        "assert ok() == 1\n"
        "DBOS.destroy()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, fresh_url, f"e{i}"], stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err


def test_both_backends_ship_the_same_migration_numbers() -> None:
    sqlite = [v for v, _, _ in load_migrations("tether.storage.sqlite")]
    postgres = [v for v, _, _ in load_migrations("tether.storage.postgres")]
    # Numbers are assigned per change, so gaps are allowed (each is applied by number, not after the highest).
    assert sqlite == postgres == sorted(set(sqlite)) and sqlite[0] == 1


def test_processes_opening_one_new_sqlite_file_at_once_all_open_it(tmp_path: Path) -> None:
    """Replicas launched together on a file that does not exist yet: each one opens it (switching it to WAL
    and migrating it), none fails with "database is locked"."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    script = ("import sys; from tether.config import parse_database_url; from tether.storage import open_store; "
              "open_store(parse_database_url(sys.argv[1])).close(); print('opened')")
    for _ in range(3):
        (tmp_path / "shared.sqlite").unlink(missing_ok=True)
        procs = [subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = [p.communicate(timeout=60) for p in procs]
        outcomes = [(p.returncode, out.strip()) for p, (out, _) in zip(procs, results, strict=True)]
        assert outcomes == [(0, "opened")] * 6, [err for _, err in results if err]


def _apply_migrations_before(url: str, version: int, rows: list[str]) -> None:
    """Bring an empty database to the schema before migration ``version`` (as an older Tether left it), then
    run ``rows`` (SQL inserts) in it."""
    db = parse_database_url(url)
    package = "tether.storage.sqlite" if db.backend == "sqlite" else "tether.storage.postgres"
    older = [(v, name, sql) for v, name, sql in load_migrations(package) if v < version]
    track = ("CREATE TABLE tether_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
             "applied_at BIGINT NOT NULL)")
    if db.backend == "sqlite":
        with sqlite3.connect(url[len("sqlite:///"):]) as conn:
            conn.execute(track)
            for v, name, sql in older:
                conn.executescript(sql)
                conn.execute("INSERT INTO tether_migrations VALUES (?, ?, 0)", (v, name))
            for row in rows:
                conn.execute(row)
        return
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("CREATE SCHEMA tether")
        pg.execute("SET search_path TO tether")
        pg.execute(track)
        for v, name, sql in older:
            pg.execute(sql.encode())
            pg.execute("INSERT INTO tether_migrations VALUES (%s, %s, 0)", (v, name))
        for row in rows:
            pg.execute(row.encode())


def test_event_history_becomes_numbered_versions(fresh_url: str) -> None:
    """Migration 007: the event history an older Tether kept becomes versions 1, 2, ... by the order of the
    operations that set them; an event with no history is version 1; the latest version is the event's."""
    blob = "X'01'" if fresh_url.startswith("sqlite") else "'\\x01'::bytea"
    _apply_migrations_before(fresh_url, 7, [
        "INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
        "VALUES ('w', 'SUCCESS', 'f', 1, 1)",
        f"INSERT INTO workflow_events VALUES ('w', 'progress', {blob}, 50)",
        f"INSERT INTO workflow_events VALUES ('w', 'old', {blob}, 60)",
        *(f"INSERT INTO workflow_events_history VALUES ('w', {fid}, 'progress', {blob})" for fid in (3, 1, 2)),
    ])
    store = open_store(parse_database_url(fresh_url))
    try:
        progress = store.read_event_versions("w", "progress", 1)
        assert [(r.version, r.created_at) for r in progress.entries] == [(1, 50), (2, 50), (3, 50)]
        assert progress.workflow_status == "SUCCESS"
        latest = store.get_event_version("w", "progress")
        assert latest is not None and latest.version == 3
        old = store.get_event_version("w", "old")
        assert old is not None and old.version == 1
        assert [r.version for r in store.read_event_versions("w", "old", 1).entries] == [1]
    finally:
        store.close()
