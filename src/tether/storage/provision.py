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


def reset_database(database: DatabaseURL, *, truncate: bool) -> None:
    """Remove everything Tether stored in ``database``: with ``truncate`` empty its tables (keeping them), else
    delete them (the SQLite file, or PostgreSQL's ``tether`` schema; the database itself and anything else in
    it stay). Nothing must be using the database. A missing database is left missing.

    Raises:
        StorageError: the database cannot be reached or changed.
    """
    if database.backend == "sqlite":
        _reset_sqlite(database.url, truncate)
        return
    if database_state(database) == "missing":
        return
    import psycopg
    from psycopg import sql

    from tether.storage.postgres.store import SCHEMA, _redact

    try:
        with psycopg.connect(database.url, autocommit=True, connect_timeout=10) as conn:
            if not truncate:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
                return
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'tether_migrations'",
                (SCHEMA,)).fetchall()]
            if tables:
                conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(SCHEMA, t) for t in tables)))
    except psycopg.Error as exc:
        raise StorageError(f"Cannot reset the PostgreSQL database at {_redact(database.url)}: {exc}") from exc


def _reset_sqlite(path: str, truncate: bool) -> None:
    if not os.path.exists(path):
        return
    if not truncate:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StorageError(f"Cannot delete the SQLite database {path + suffix}: {exc}") from exc
        return
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=60)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name <> 'tether_migrations'").fetchall()]
            conn.execute("BEGIN IMMEDIATE")
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')  # names read from sqlite_master, not from a caller
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"Cannot empty the SQLite database {path}: {exc}") from exc


def grant_access(database: DatabaseURL, role: str) -> None:
    """Let PostgreSQL role ``role`` use every table, sequence and function of Tether's schema, now and after
    later migrations (run by a privileged user, for an application that connects as ``role``).

    Raises:
        StorageError: the grants fail (no such role, or this user may not grant).
    """
    import psycopg
    from psycopg import sql

    from tether.storage.postgres.store import SCHEMA, _redact

    schema, who = sql.Identifier(SCHEMA), sql.Identifier(role)
    statements = [
        "GRANT USAGE ON SCHEMA {schema} TO {who}",
        "GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA {schema} TO {who}",
        "GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {who}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT ALL ON TABLES TO {who}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT ALL ON SEQUENCES TO {who}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT EXECUTE ON FUNCTIONS TO {who}",
    ]
    try:
        with psycopg.connect(database.url, autocommit=True, connect_timeout=10) as conn:
            for statement in statements:
                conn.execute(sql.SQL(statement).format(schema=schema, who=who))
    except psycopg.Error as exc:
        raise StorageError(f"Cannot grant {role!r} access to Tether's tables at {_redact(database.url)}: "
                           f"{exc}") from exc
