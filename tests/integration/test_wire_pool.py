"""The PostgreSQL connection pool's promises: never more connections in use than its size, a caller waiting for
one is served when another comes back, and a connection it can tell is dead is never handed out."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tether.errors import StorageError
from tether.storage.postgres.wire import WireConnection, WirePool

SETUP = "SET application_name TO 'tether-pool-test'"


def _pid(wire: WireConnection) -> int:
    return int(wire.pgconn.backend_pid)


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def test_a_full_pool_makes_the_next_caller_wait_for_a_returned_connection(pg_database: str) -> None:
    pool = WirePool(pg_database, 2, SETUP)
    try:
        first, second = pool.take(), pool.take()
        assert _pid(first) != _pid(second)
        got: list[WireConnection] = []
        waiter = threading.Thread(target=lambda: got.append(pool.take()))
        waiter.start()
        while True:  # the third caller is parked on the pool, not given a third connection
            with pool._lock:
                if pool._waiting == 1:
                    break
            waiter.join(0.01)
        assert not got and pool._in_use == 2
        pool.give(first)
        waiter.join(30)
        assert [_pid(w) for w in got] == [_pid(first)]  # the returned one, not a new one
        pool.give(second)
        pool.give(got[0])
        assert pool._in_use == 0 and len(pool._idle) == 2
    finally:
        pool.close()


def test_a_connection_lost_in_use_is_replaced_and_the_idle_ones_dropped(pg_database: str) -> None:
    pool = WirePool(pg_database, 3, SETUP)
    try:
        a, b = pool.take(), pool.take()
        pool.give(b)  # idle
        _terminate(pg_database, _pid(a))
        with pytest.raises(StorageError):
            a.simple(b"SELECT 1")
        dead = _pid(a)
        pool.give(a)
        assert dead not in pool.backend_pids and pool._idle == [] and pool._in_use == 0
        with pool.connection() as fresh:
            fresh.simple(b"SELECT 1")
            assert _pid(fresh) != dead
    finally:
        pool.close()


def test_an_idle_connection_the_server_closed_is_not_handed_out(pg_database: str) -> None:
    pool = WirePool(pg_database, 2, SETUP)
    try:
        with pool.connection() as wire:
            dead = _pid(wire)
        _terminate(pg_database, dead)
        with pool.connection() as wire:
            wire.simple(b"SELECT 1")
            assert _pid(wire) != dead
        assert dead not in pool.backend_pids
    finally:
        pool.close()


def test_a_closed_pool_refuses_and_closes_what_comes_back(pg_database: str) -> None:
    pool = WirePool(pg_database, 2, SETUP)
    wire = pool.take()
    pool.close()
    with pytest.raises(StorageError):
        pool.take()
    pool.give(wire)
    assert wire.conn.closed and pool._in_use == 0


def test_a_statement_the_server_cannot_bind_is_an_error_not_an_outage(pg_database: str) -> None:
    """A bind with more values than the prepared statement has parameters (SQLSTATE 08P01, in the connection
    class) is a bug in the statement -- as a ``:name`` inside a comment once made one: it raises StorageError,
    not the DatabaseUnavailableError that callers retry forever."""
    from tether.errors import DatabaseUnavailableError
    from tether.storage.postgres.codec import PreparedQuery

    pool = WirePool(pg_database, 1, SETUP)
    try:
        # the comment's :b is numbered $2 by the rewriter, but the server sees one parameter
        query = PreparedQuery("bind_mismatch", "SELECT CAST(:a AS INTEGER) -- and :b\n")
        with pool.connection() as wire, pytest.raises(StorageError, match="bind message supplies 2") as caught:
            wire.run(query, {"a": 1, "b": 2})
        assert not isinstance(caught.value, DatabaseUnavailableError)
        with pool.connection() as wire:  # the connection is still good
            assert wire.run_sql("SELECT 1", None).fetchone() == (1,)
    finally:
        pool.close()


def test_every_parameter_type_reaches_postgresql_as_given(pg_database: str) -> None:
    """Text parameters (str, int, bool, float, an int subclass) and binary ones (bytes, bytearray, memoryview)
    mixed in one statement, in every position, through a prepared statement, a pipeline and dynamic SQL."""
    import enum

    from tether.storage.postgres.codec import PreparedQuery

    class Small(enum.IntEnum):
        TWO = 2

    sql = ("SELECT CAST(:s AS TEXT), CAST(:i AS BIGINT), CAST(:t AS BOOLEAN), CAST(:f AS DOUBLE PRECISION), "
           "CAST(:e AS INTEGER), CAST(:b AS BYTEA), CAST(:ba AS BYTEA), CAST(:mv AS BYTEA), CAST(:n AS TEXT)")
    params = {"s": "héllo", "i": -(2 ** 40), "t": True, "f": 1.5, "e": Small.TWO, "b": b"\x00\x01",
              "ba": bytearray(b"\xff"), "mv": memoryview(b"ab"), "n": None}
    expected = ("héllo", -(2 ** 40), True, 1.5, 2, b"\x00\x01", b"\xff", b"ab", None)
    pool = WirePool(pg_database, 1, SETUP)
    try:
        with pool.connection() as wire:
            assert wire.run(PreparedQuery("every_type", sql), params).fetchone() == expected
            assert [c.fetchone() for c in wire.pipeline([(PreparedQuery("every_type_p", sql), params)])] == [expected]
            positional = sql.replace(":s", "?").replace(":i", "?").replace(":t", "?").replace(":f", "?")
            positional = positional.replace(":e", "?").replace(":ba", "?").replace(":b", "?")
            positional = positional.replace(":mv", "?").replace(":n", "?")
            assert wire.run_sql(positional, list(params.values())).fetchone() == expected
            assert wire.run(PreparedQuery("all_text", "SELECT CAST(:a AS TEXT), CAST(:b AS BIGINT)"),
                            {"a": "x", "b": 7}).fetchone() == ("x", 7)
    finally:
        pool.close()
