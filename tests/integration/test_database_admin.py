"""``DBOS.reset_system_database`` and ``DBOS.migrate`` (DBOS 3.4's testing and deployment helpers), on both
backends: a reset removes every workflow and leaves a database the next launch uses; a migration prepares the
database before launch, and lets an application's own role, which may not change the schema, run on it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_ADMIN_URL, make_config, temporary_pg_database
from tether import DBOS, DBOSException, SetWorkflowID, run_dbos_database_migrations
from tether.config import parse_database_url
from tether.errors import ConfigError
from tether.storage import open_store
from tether.storage.provision import database_state


@DBOS.workflow(name="admin.double")
def double(x: int) -> int:
    DBOS.set_event("seen", x)
    return 2 * x


def _run_one(url: str, wfid: str) -> None:
    """Launch on ``url``, run one workflow under ``wfid``, and stop."""
    DBOS(config=make_config(url))
    DBOS.launch()
    try:
        with SetWorkflowID(wfid):
            assert double(21) == 42
    finally:
        DBOS.destroy()


def _relaunch_and_look(url: str, wfid: str) -> tuple[object, list[object]]:
    """Launch on ``url`` again: what is known of ``wfid``, and every workflow listed; stopped afterwards."""
    DBOS(config=make_config(url))
    DBOS.launch()
    try:
        return DBOS.get_workflow_status(wfid), DBOS.list_workflows()
    finally:
        DBOS.destroy()


@pytest.mark.parametrize("truncate", [False, True], ids=["remove", "truncate"])
def test_a_reset_before_launch_removes_every_workflow(fresh_url: str, truncate: bool) -> None:
    wfid = f"before-reset-{uuid.uuid4().hex[:8]}"
    _run_one(fresh_url, wfid)
    DBOS(config=make_config(fresh_url))
    DBOS.reset_system_database(truncate=truncate)
    if truncate:  # the tables stay, migrated, and empty
        assert database_state(parse_database_url(fresh_url)) == "ready"
    else:
        assert database_state(parse_database_url(fresh_url)) in ("missing", "empty")
    DBOS.launch()
    try:
        assert DBOS.get_workflow_status(wfid) is None and DBOS.list_workflows() == []
        assert DBOS.get_event(wfid, "seen", timeout_seconds=0) is None
        assert double(5) == 10  # the database works as a new one
    finally:
        DBOS.destroy()


def test_a_reset_after_launch_is_refused_and_removes_nothing(fresh_url: str) -> None:
    wfid = f"kept-{uuid.uuid4().hex[:8]}"
    DBOS(config=make_config(fresh_url))
    DBOS.launch()
    try:
        with SetWorkflowID(wfid):
            double(1)
        with pytest.raises(DBOSException, match="cannot be reset after DBOS is launched"):
            DBOS.reset_system_database()
        assert DBOS.get_workflow_status(wfid) is not None
    finally:
        DBOS.destroy()


def test_a_reset_without_an_application_needs_a_url(fresh_url: str) -> None:
    wfid = f"by-url-{uuid.uuid4().hex[:8]}"
    _run_one(fresh_url, wfid)
    DBOS.destroy()  # no DBOS(config=...) now: without a URL there is nothing to reset
    DBOS.reset_system_database(truncate=True)
    status, _ = _relaunch_and_look(fresh_url, wfid)
    assert status is not None
    DBOS.reset_system_database(system_database_url=fresh_url, truncate=True)
    status, listed = _relaunch_and_look(fresh_url, wfid)
    assert status is None and listed == []


def test_migrate_prepares_a_database_before_any_launch(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        DBOS.migrate(url)
        with pytest.raises(DBOSException, match="only supported for Postgres"):
            DBOS.migrate(url, application_role="app")
    else:
        name = f"tether_migrate_{uuid.uuid4().hex[:8]}"  # not created: migrate creates it, as launch does
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        if not db_url.startswith("sqlite"):
            DBOS.migrate(url)
        database = parse_database_url(url)
        assert database_state(database) == "ready"
        store = open_store(database)
        try:
            migrated = store.applied_migrations()  # type: ignore[attr-defined]
        finally:
            store.close()
        run_dbos_database_migrations(url)  # again: nothing to do
        assert database_state(database) == "ready"
        assert migrated and migrated == sorted(migrated)
        with pytest.raises(ConfigError, match="sharding"):
            DBOS.migrate(url, sharding=True)
        with pytest.raises(SystemExit):
            run_dbos_database_migrations("mysql://nowhere/db")
    finally:
        if not db_url.startswith("sqlite"):
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_application_role_granted_by_migrate_runs_workflows_without_schema_rights(pg_database: str) -> None:
    """PostgreSQL only: roles are PostgreSQL's (SQLite refuses ``application_role``, tested above)."""
    role = f"tether_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')  # may not create schemas or tables in the database
    try:
        with temporary_pg_database("tether_role") as admin_url:
            DBOS.migrate(admin_url, application_role=role)
            app_url = admin_url.replace("postgres@", f"{role}@", 1)
            assert app_url != admin_url
            wfid = f"as-role-{uuid.uuid4().hex[:8]}"
            _run_one(app_url, wfid)
            status, _ = _relaunch_and_look(app_url, wfid)
            assert status is not None and status.status == "SUCCESS"  # type: ignore[attr-defined]
            with psycopg.connect(app_url, autocommit=True) as conn, \
                    pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE SCHEMA not_allowed")  # the role really has no schema rights
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
