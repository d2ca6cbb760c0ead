"""PostgreSQL backend: psycopg 3 with a connection pool; schema ``tether``; migrations under an advisory lock.

Connections run in autocommit mode, so a single-statement checkpoint costs one round trip; multi-statement
writes use an explicit transaction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
import psycopg_pool

from tether.errors import StorageError
from tether.storage.base import Listener
from tether.storage.sql import load_migrations, load_queries
from tether.storage.sqlstore import Cursor, SqlStore, UniqueViolation

SCHEMA = "tether"
_MIGRATION_LOCK = 0x7E7E_0001  # advisory lock key serializing concurrent launches


def _to_psycopg(sql: str) -> str:
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


_QUERIES = {name: _to_psycopg(sql) for name, sql in load_queries("tether.storage.postgres").items()}


class _PgSession:
    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        return self.conn.execute(_QUERIES[name], params or {})

    def run_sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Cursor:
        query = sql.replace("?", "%s") if isinstance(params, (list, tuple)) else sql
        return self.conn.execute(query, params)


def _translate(exc: Exception) -> StorageError:
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return UniqueViolation(str(exc))
    return StorageError(f"PostgreSQL error: {exc}")


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"SET search_path TO {SCHEMA}")


class PostgresStore(SqlStore):
    backend = "postgres"
    queries = _QUERIES
    placeholder = "?"  # rewritten to %s in run_sql
    _prefix_column = 'workflow_uuid COLLATE "C"'

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        try:
            self._migrate()
            self._pool = psycopg_pool.ConnectionPool(
                url, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, configure=_configure,
                open=False, timeout=30,
            )
            self._pool.open(wait=True, timeout=15)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise StorageError(f"Cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc

    def _migrate(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                conn.execute(f"SET search_path TO {SCHEMA}")
                conn.execute("CREATE TABLE IF NOT EXISTS tether_migrations (version INTEGER PRIMARY KEY, "
                             "name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                done = {r[0] for r in conn.execute("SELECT version FROM tether_migrations").fetchall()}
                for version, name, sql in load_migrations("tether.storage.postgres"):
                    if version in done:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode())
                        conn.execute("INSERT INTO tether_migrations VALUES (%s, %s, %s)",
                                     (version, name, int(time.time() * 1000)))
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    def applied_migrations(self) -> list[int]:
        with self._auto() as s:
            return [r[0] for r in s.run_sql("SELECT version FROM tether_migrations ORDER BY version").fetchall()]

    @contextmanager
    def _tx(self) -> Iterator[_PgSession]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield _PgSession(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise _translate(exc) from exc

    @contextmanager
    def _auto(self) -> Iterator[_PgSession]:
        try:
            with self._pool.connection() as conn:
                yield _PgSession(conn)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise _translate(exc) from exc

    def listener(self) -> Listener:
        from tether.storage.postgres.listener import PostgresListener

        return PostgresListener(self.url)

    def close(self) -> None:
        self._pool.close()


def _redact(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)
