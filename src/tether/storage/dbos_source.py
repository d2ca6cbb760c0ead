"""Reading a DBOS 3.4 system database (a SQLite file, or a PostgreSQL database's ``dbos`` schema) for
``tether import-dbos``. Read-only: a SQLite file is opened with ``mode=ro``, a PostgreSQL session is a
``READ ONLY`` transaction, so one snapshot is read and nothing in DBOS's tables changes.

Values come back as DBOS stored them (text, with their serializer's name); ``engine/dbos_import.py`` converts
them. The statements are in ``dbos_source.sql``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tether.config import DatabaseURL
from tether.errors import DBOSSourceError
from tether.storage.sql import load_queries

_QUERIES = load_queries("tether.storage", "dbos_source.sql")
SUPPORTED_VERSIONS = (125,)  # the schema dbos==3.4.0 creates and migrates to (its dbos_migrations version)


@dataclass
class DbosRows:
    """Everything read from one DBOS database, as rows of dicts keyed by column name."""

    version: int
    workflows: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    consumed_messages: int
    events: list[dict[str, Any]]
    event_history: list[dict[str, Any]]
    streams: list[dict[str, Any]]
    queues: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    application_versions: int


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def read_dbos(database: DatabaseURL, schema: str = "dbos") -> DbosRows:
    """Read a DBOS system database in one snapshot.

    Raises:
        DBOSSourceError: it cannot be reached or opened, it is not a DBOS system database, or its schema
            version is not one this Tether reads (see ``SUPPORTED_VERSIONS``).
    """
    if database.backend == "sqlite":
        with _sqlite(database.url) as cur:
            return _read(cur, "sqlite", database.url)
    with _postgres(database.url, schema) as cur:
        return _read(cur, "postgres", _redact(database.url))


def _read(cur: Any, backend: str, where: str) -> DbosRows:
    try:
        rows = cur.execute(_QUERIES["version"]).fetchall()
    except Exception as exc:  # the driver's error: the table is missing or unreadable
        raise DBOSSourceError(f"{where} is not a DBOS system database (no dbos_migrations table)") from exc
    if not rows:
        raise DBOSSourceError(f"{where} is not a DBOS system database (dbos_migrations is empty)")
    version = int(rows[0][0])
    if version not in SUPPORTED_VERSIONS:
        raise DBOSSourceError(
            f"{where} is a DBOS system database of schema version {version}; this Tether reads version "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))} (dbos 3.4). Upgrade it with dbos 3.4 first "
            f"(launch a dbos==3.4.0 application on it once), then import")

    def all_of(name: str) -> list[dict[str, Any]]:
        try:
            result = cur.execute(_QUERIES[name])
            columns = [d[0] for d in result.description]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except Exception as exc:  # the driver's error
            raise DBOSSourceError(f"{where}: cannot read DBOS's {name}: {_one_line(exc)}") from exc

    def count(name: str) -> int:
        return int(next(iter(all_of(name)[0].values())))

    return DbosRows(
        version=version, workflows=all_of("workflows"), operations=all_of("operations"),
        messages=all_of("pending_messages_sqlite" if backend == "sqlite" else "pending_messages"),
        consumed_messages=count("consumed_messages"), events=all_of("events"),
        event_history=all_of("event_history"), streams=all_of("streams"), queues=all_of("queues"),
        schedules=all_of("schedules"), application_versions=count("application_versions"))


@contextmanager
def _sqlite(path: str) -> Iterator[sqlite3.Cursor]:
    if not os.path.isfile(path):
        raise DBOSSourceError(f"{path}: no such SQLite file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DBOSSourceError(f"{path}: cannot open it: {exc}") from exc
    try:
        try:
            conn.execute("BEGIN")  # one snapshot for every table
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise DBOSSourceError(f"{path} is not a SQLite database: {exc}") from exc
        yield conn.cursor()
    finally:
        conn.close()


@contextmanager
def _postgres(url: str, schema: str) -> Iterator[Any]:
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise DBOSSourceError(f"cannot connect to {_redact(url)}: {_one_line(exc)}") from exc
    try:
        try:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            found = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".dbos_migrations',)).fetchone()
        except psycopg.Error as exc:
            raise DBOSSourceError(f"{_redact(url)}: {_one_line(exc)}") from exc
        if found is None or found[0] is None:
            raise DBOSSourceError(f"{_redact(url)} has no DBOS system database in schema {schema!r} "
                                  f"(no {schema}.dbos_migrations table)")
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        yield conn
    finally:
        conn.close()
