"""Before opening a store: does its database exist, and creating a missing PostgreSQL database.

Read-only tools (the CLI's ``list``, ``get``, ...) ask :func:`database_state` first, so looking never creates a
file or a database. ``DBOS.launch()`` and ``tether migrate`` call :func:`create_database` first, so a
PostgreSQL database that does not exist yet is created when the server lets this user create it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from typing import Literal

from tether.config import DatabaseURL
from tether.errors import StorageError

DatabaseState = Literal["missing", "empty", "ready"]


def database_state(database: DatabaseURL) -> DatabaseState:
    """``missing`` (no such file or database), ``empty`` (it exists but holds no Tether tables) or ``ready``.
    Creates nothing.

    Raises:
        StorageError: the PostgreSQL server cannot be reached.
    """
    if database.backend == "sqlite":
        return _sqlite_state(database.url)
    import psycopg

    from tether.storage.postgres.store import SCHEMA, _redact

    try:
        with psycopg.connect(database.url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.tether_migrations",)).fetchone()
    except psycopg.OperationalError as exc:
        if _pg_database_missing(database.url):
            return "missing"
        raise StorageError(f"Cannot connect to PostgreSQL at {_redact(database.url)}: {exc}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"Cannot connect to PostgreSQL at {_redact(database.url)}: {exc}") from exc
    return "ready" if row is not None and row[0] is not None else "empty"


def _pg_database_missing(url: str) -> bool:
    """Whether the server answers but has no database of the URL's name (asked on its ``postgres`` database,
    since a failed connection does not say why in a form meant for programs)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = _pg_name(conninfo_to_dict(url))
    try:
        with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True, connect_timeout=10) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
    except psycopg.Error:
        return False


def _pg_name(params: Mapping[str, object]) -> str:
    return str(params.get("dbname") or params.get("user") or os.environ.get("PGUSER") or "postgres")


def _sqlite_state(path: str) -> DatabaseState:
    if not os.path.exists(path):
        return "missing"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tether_migrations'"
                               ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return "ready"  # not readable this way: opening it for real reports what is wrong
    return "ready" if row is not None else "empty"


def create_database(database: DatabaseURL) -> bool:
    """Create the PostgreSQL database ``database`` names when it does not exist yet (a SQLite file is created
    when it is opened). Returns whether it created one.

    Raises:
        StorageError: the server cannot be reached, or the database is missing and this user may not create it
            (the message says what to run).
    """
    if database.backend == "sqlite" or database_state(database) != "missing":
        return False
    import psycopg
    import psycopg.errors
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from tether.storage.postgres.store import _redact

    params = conninfo_to_dict(database.url)
    name = _pg_name(params)
    try:
        with psycopg.connect(make_conninfo(database.url, dbname="postgres"), autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return False  # another process created it first
    except psycopg.Error as exc:
        host = params.get("host") or "localhost"
        port = params.get("port") or "5432"
        user = params.get("user") or os.environ.get("PGUSER") or "postgres"
        raise StorageError(
            f"PostgreSQL database {name!r} does not exist at {_redact(database.url)} and could not be created "
            f"({str(exc).strip().splitlines()[0]}); as a user allowed to create databases, run: "
            f"createdb -h {host} -p {port} -O {user} {name}"
        ) from exc
    return True
