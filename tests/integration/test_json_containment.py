"""SQLite's attribute filter uses a Python rendition of PostgreSQL's JSONB containment; check it against a real
PostgreSQL server on generated documents, and through SQLite's SQL on the same documents."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.storage.sqlite.jsonb import sql_contains

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([1.0, 2.5, -0.0]),
                     st.sampled_from(["", "a", "b", "1", "true"]))
_keys = st.sampled_from(["a", "b", "c"])
_json: st.SearchStrategy[Any] = st.recursive(
    _scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8)


@pytest.fixture(scope="module")
def pg(pg_database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def lite() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.create_function("tether_json_contains", 2, sql_contains, deterministic=True)
    yield conn
    conn.close()


@settings(max_examples=400, deadline=None)
@given(doc=_json, needle=_json)
def test_sqlite_containment_agrees_with_postgres(pg: psycopg.Connection[Any], lite: sqlite3.Connection,
                                                 doc: Any, needle: Any) -> None:
    a, b = json.dumps(doc), json.dumps(needle)
    row = pg.execute("SELECT CAST(%s AS JSONB) @> CAST(%s AS JSONB)", (a, b)).fetchone()
    assert row is not None
    ours = lite.execute("SELECT tether_json_contains(?, ?)", (a, b)).fetchone()
    assert ours is not None
    assert bool(ours[0]) is row[0], (a, b)


@settings(max_examples=200, deadline=None)
@given(doc=_json)
def test_every_document_contains_itself_and_its_parts(lite: sqlite3.Connection, doc: Any) -> None:
    a = json.dumps(doc)
    assert lite.execute("SELECT tether_json_contains(?, ?)", (a, a)).fetchone() == (1,)
    if isinstance(doc, dict):
        for key, value in doc.items():
            part = json.dumps({key: value})
            assert lite.execute("SELECT tether_json_contains(?, ?)", (a, part)).fetchone() == (1,)


def test_null_sides_give_null() -> None:
    assert sql_contains(None, "{}") is None
    assert sql_contains("{}", None) is None
    assert sql_contains("not json", "{}") == 0
