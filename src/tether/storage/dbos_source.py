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
from pathlib import Path
from typing import Any

from tether.config import DatabaseURL
from tether.errors import DBOSSourceError
from tether.storage.sql import load_queries

_QUERIES = load_queries("tether.storage", "dbos_source.sql")
SUPPORTED_VERSIONS = (125,)  # the schema dbos==3.4.0 creates and migrates to (its dbos_migrations version)


@dataclass
class DbosChunk:
    """The rows of a run of workflows (by ID) and everything recorded for them, as dicts keyed by column."""

    workflows: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]
    event_history: list[dict[str, Any]]
    streams: list[dict[str, Any]]


class DbosSource:
    """An open DBOS system database, read in one snapshot: its schema version, its workflows a chunk at a time
    (:meth:`chunks`), its queues and schedules, and counts of what Tether does not take."""

    def __init__(self, cur: Any, backend: str, where: str) -> None:
        self._cur = cur
        self._backend = backend
        self.where = where
        self.version = self._version()

    def _version(self) -> int:
        try:
            rows = self._cur.execute(_QUERIES["version"]).fetchall()
        except Exception as exc:  # the driver's error: the table is missing or unreadable
            raise DBOSSourceError(f"{self.where} is not a DBOS system database (no dbos_migrations table)") from exc
        if not rows:
            raise DBOSSourceError(f"{self.where} is not a DBOS system database (dbos_migrations is empty)")
        version = int(rows[0][0])
        if version not in SUPPORTED_VERSIONS:
            raise DBOSSourceError(
                f"{self.where} is a DBOS system database of schema version {version}; this Tether reads version "
                f"{', '.join(map(str, SUPPORTED_VERSIONS))} (dbos 3.4). Upgrade it with dbos 3.4 first "
                f"(launch a dbos==3.4.0 application on it once), then import")
        return version

    def _all(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        sql = _QUERIES[name]
        if self._backend == "postgres":
            sql = re.sub(r":(\w+)", r"%(\1)s", sql)
        try:
            result = self._cur.execute(sql, params or {})
            columns = [d[0] for d in result.description]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except Exception as exc:  # the driver's error
            raise DBOSSourceError(f"{self.where}: cannot read DBOS's {name}: {_one_line(exc)}") from exc

    def _count(self, name: str) -> int:
        return int(next(iter(self._all(name)[0].values())))

    def chunks(self, size: int = 500) -> Iterator[DbosChunk]:
        """Every workflow, ``size`` at a time in ID order, each chunk with its workflows' steps, pending
        messages, events, event history and streams.

        Raises:
            DBOSSourceError: a table cannot be read.
        """
        after = ""
        while True:
            workflows = self._all("workflows", {"after": after, "limit": size})
            if not workflows:
                return
            span = {"lo": workflows[0]["workflow_uuid"], "hi": workflows[-1]["workflow_uuid"]}
            after = span["hi"]
            yield DbosChunk(
                workflows=workflows, operations=self._all("operations", span),
                messages=self._all("pending_messages_sqlite" if self._backend == "sqlite" else "pending_messages",
                                   span),
                events=self._all("events", span), event_history=self._all("event_history", span),
                streams=self._all("streams", span))

    def queues(self) -> list[dict[str, Any]]:
        return self._all("queues")

    def schedules(self) -> list[dict[str, Any]]:
        return self._all("schedules")

    def consumed_messages(self) -> int:
        """Messages DBOS delivered and kept (Tether keeps none: the recv's checkpoint holds the value)."""
        return self._count("consumed_messages")

    def application_versions(self) -> int:
        return self._count("application_versions")


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextmanager
def open_dbos(database: DatabaseURL, schema: str = "dbos") -> Iterator[DbosSource]:
    """Open a DBOS system database read-only, in one snapshot, checking it is one this Tether reads.

    Raises:
        DBOSSourceError: it cannot be reached or opened, it is not a DBOS system database, or its schema
            version is not one this Tether reads (see ``SUPPORTED_VERSIONS``).
    """
    if database.backend == "sqlite":
        with _sqlite(database.url) as cur:
            yield DbosSource(cur, "sqlite", database.url)
    else:
        with _postgres(database.url, schema) as cur:
            yield DbosSource(cur, "postgres", _redact(database.url))


@contextmanager
def _sqlite(path: str) -> Iterator[sqlite3.Cursor]:
    if not os.path.isfile(path):
        raise DBOSSourceError(f"{path}: no such SQLite file")
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
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
