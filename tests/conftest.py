"""Fixtures shared by every test: a database URL for each backend, and a launched DBOS on it.

Every storage test runs on SQLite and on PostgreSQL. PostgreSQL tests use a database created for this test
run (one per xdist worker) and dropped at the end. Where no PostgreSQL server answers they are skipped with
the reason shown, except under CI=true, where a missing server is an error.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tether import DBOS, DBOSClient

PG_ADMIN_URL = os.environ.get("TETHER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}".strip()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this test run (this worker), dropped afterwards."""
    problem = _pg_available()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {problem}")
        pytest.skip(problem)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with temporary_pg_database(f"tether_test_{worker}") as url:
        yield url


@contextlib.contextmanager
def temporary_pg_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it (even with connections still open)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A system database URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tether.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of ``db_url``'s backend that no other test uses: for tests of what is shared by
    everything on a database (migrations, the registry of versions, a reset)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    with temporary_pg_database("tether_fresh") as url:
        yield url


@pytest.fixture
def backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgres"


def make_config(db_url: str, **extra: Any) -> Any:
    """A config with an executor ID of its own, so recovery never picks up another test's workflows."""
    config: dict[str, Any] = {
        "name": "tether-test",
        "system_database_url": db_url,
        "executor_id": f"test-{uuid.uuid4().hex[:12]}",
        "application_version": "test",
        "sqlite_poll_interval_sec": 0.02,
    }
    config.update(extra)
    return config


@pytest.fixture
def dbos(db_url: str) -> Iterator[type[DBOS]]:
    """A launched DBOS on each backend, destroyed after the test. Its version is the application's latest
    (tests that launch other versions share the PostgreSQL database, and its registry of versions)."""
    DBOS(config=make_config(db_url))
    try:  # a launch that fails is destroyed too: nothing of it is left for the next test to trip on
        DBOS.launch()
        DBOS.set_latest_application_version(DBOS.application_version)
        yield DBOS
    finally:
        DBOS.destroy()


@pytest.fixture
def client(dbos: type[DBOS], db_url: str) -> Iterator[DBOSClient]:
    """A ``DBOSClient`` on the launched application's database, acting for no application (as the CLI and a
    bare gateway do)."""
    with DBOSClient(db_url) as c:
        yield c
