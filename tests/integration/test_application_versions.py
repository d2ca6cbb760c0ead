"""The registry of application versions (DBOS 3.4's ``list_application_versions``,
``get_latest_application_version``, ``set_latest_application_version``), on both backends: every launch
registers its version for its application, the newest is the latest, a rollback promotes an older one, and
version names are global (one application cannot promote another's).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSClient, DBOSException, Queue
from tether.config import parse_database_url
from tether.errors import ArgumentTypeError, InvalidArgumentError
from tether.storage import open_store
from tether.storage.postgres.store import SCHEMA


def _launch(db_url: str, version: str, name: str = "tether-test") -> None:
    DBOS(config=make_config(db_url, application_version=version, name=name))
    DBOS.launch()



@pytest.fixture
def relaunch(fresh_url: str) -> Iterator[str]:
    """A fresh database; the test launches DBOS on it itself (several times), and whatever is launched at
    the end is destroyed."""
    try:
        yield fresh_url
    finally:
        DBOS.destroy()


def _names(found: list[dict[str, object]] | list[object]) -> list[str]:
    return [v["version_name"] for v in found]  # type: ignore[index]


def test_each_launch_registers_its_version_and_the_newest_is_the_latest(relaunch: str) -> None:
    _launch(relaunch, "v1")
    only = DBOS.list_application_versions()
    assert _names(only) == ["v1"] and only[0]["application_name"] == "tether-test"
    assert only[0]["version_timestamp"] >= only[0]["created_at"] > 0
    DBOS.destroy()
    _launch(relaunch, "v2")  # a new deployment
    assert _names(DBOS.list_application_versions()) == ["v2", "v1"]
    assert DBOS.get_latest_application_version()["version_name"] == "v2"
    # A rollback: v1 is the latest again, and a process of v2 that launches now says it is not.
    DBOS.set_latest_application_version("v1")
    assert DBOS.get_latest_application_version()["version_name"] == "v1"
    DBOS.destroy()
    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    DBOS.logger.addHandler(handler)
    try:
        _launch(relaunch, "v2")
    finally:
        DBOS.logger.removeHandler(handler)
    assert "Current version 'v2' is not the latest version; the latest is 'v1'" in said
    assert _names(DBOS.list_application_versions()) == ["v1", "v2"]  # relaunching does not move it


def test_a_queues_settings_follow_the_latest_version(relaunch: str) -> None:
    _launch(relaunch, "v1")
    DBOS.register_queue("versioned-q", worker_concurrency=1)
    DBOS.destroy()
    _launch(relaunch, "v2")
    DBOS.register_queue("versioned-q", worker_concurrency=2, on_conflict="update_if_latest_version")
    assert DBOS.retrieve_queue("versioned-q").worker_concurrency == 2  # type: ignore[union-attr]
    DBOS.set_latest_application_version("v1")  # rolled back: v2 no longer owns the settings
    DBOS.register_queue("versioned-q", worker_concurrency=3, on_conflict="update_if_latest_version")
    got = DBOS.retrieve_queue("versioned-q")
    assert isinstance(got, Queue) and got.worker_concurrency == 2


def test_version_names_are_global_and_listing_is_per_application(relaunch: str) -> None:
    _launch(relaunch, "b1", name="billing")
    DBOS.destroy()
    _launch(relaunch, "v1")
    assert _names(DBOS.list_application_versions()) == ["v1"]  # billing's are not this application's
    with pytest.raises(InvalidArgumentError, match="'b1' belongs to application 'billing'"):
        DBOS.set_latest_application_version("b1")
    with pytest.raises(InvalidArgumentError, match="no application version is named 'v9'"):
        DBOS.set_latest_application_version("v9")
    with pytest.raises(ArgumentTypeError, match="version_name"):
        DBOS.set_latest_application_version(1)  # type: ignore[arg-type]
    everyone = DBOSClient(relaunch)
    billing = DBOSClient(relaunch, application_name="billing")
    try:
        assert sorted(_names(everyone.list_application_versions())) == ["b1", "v1"]
        assert billing.get_latest_application_version()["version_name"] == "b1"
        # A client may act for an application by name.
        everyone.set_latest_application_version("b1", application_name="billing")
        assert everyone.get_latest_application_version()["version_name"] == "b1"
    finally:
        everyone.destroy()
        billing.destroy()


def test_a_client_before_any_launch_finds_no_version(fresh_url: str) -> None:
    client = DBOSClient(fresh_url)
    try:
        with pytest.raises(DBOSException, match="No application versions found"):
            client.get_latest_application_version()
        assert client.list_application_versions() == []
    finally:
        client.destroy()


def test_upgrading_takes_over_the_versions_queues_had_seen(fresh_url: str) -> None:
    """A database of the release before the registry (migration 016) keeps the versions its queues recorded."""
    db = parse_database_url(fresh_url)
    open_store(db).close()  # fully migrated; then put it back as it was before migration 017
    undo = ["DROP TABLE application_versions",
            "CREATE TABLE queue_app_versions (application_name TEXT NOT NULL, version TEXT NOT NULL, "
            "first_seen_ms BIGINT NOT NULL, PRIMARY KEY (application_name, version))",
            "INSERT INTO queue_app_versions VALUES ('shop', 'v1', 1000), ('shop', 'v2', 2000), "
            "('billing', 'v2', 1500)",
            "DELETE FROM tether_migrations WHERE version = 17"]
    if db.backend == "sqlite":
        with sqlite3.connect(fresh_url.removeprefix("sqlite:///")) as conn:
            for statement in undo:
                conn.execute(statement)
    else:
        with psycopg.connect(fresh_url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {SCHEMA}")
            for statement in undo:
                conn.execute(statement.encode())
    open_store(db).close()  # migration 017 runs again
    client = DBOSClient(fresh_url)
    try:
        found = {v["version_name"]: (v["application_name"], v["version_timestamp"])
                 for v in client.list_application_versions()}
        assert found == {"v1": ("shop", 1000), "v2": ("billing", 1500)}  # the first to see v2 owns it
    finally:
        client.destroy()
