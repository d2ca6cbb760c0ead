"""``DBOSClient.enqueue_in_transaction``, ``send_in_transaction`` and ``send_bulk_in_transaction`` on both
backends: the workflow or the messages are written with the caller's own SQLAlchemy transaction on the system
database, so they exist exactly when the caller's own writes do, and a refusal leaves that transaction usable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tether import DBOS, DBOSClient, Queue, QueueDeduplicatedError, SendMessage
from tether.errors import NonExistentWorkflowError

queue = Queue("caller-tx")


@DBOS.workflow(name="caller_tx.double")
def double(x: int) -> int:
    return 2 * x


@DBOS.workflow(name="caller_tx.listen")
def listen(timeout: float) -> Any:
    return DBOS.recv("orders", timeout_seconds=timeout)


class Boom(Exception):
    pass


@pytest.fixture
def engine(dbos: type[DBOS], db_url: str) -> Iterator[sa.Engine]:
    url = sa.make_url(db_url)
    if url.drivername.startswith("postgres"):
        url = url.set(drivername="postgresql+psycopg")
    eng = sa.create_engine(url)
    if eng.dialect.name == "sqlite":  # transactions that write to a shared SQLite file begin IMMEDIATE
        @sa.event.listens_for(eng, "connect")
        def _connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None
            dbapi_conn.execute("PRAGMA busy_timeout=30000")

        @sa.event.listens_for(eng, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    with eng.begin() as conn:  # the application's own table, beside Tether's
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS caller_tx_orders (id TEXT PRIMARY KEY)"))
    try:
        yield eng
    finally:
        eng.dispose()


def _orders(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT id FROM caller_tx_orders"))}


def _options(**extra: Any) -> Any:
    return {"queue_name": queue.name, "workflow_name": "caller_tx.double", **extra}


def test_an_enqueue_commits_and_rolls_back_with_the_callers_writes(engine: sa.Engine, client: DBOSClient) -> None:
    kept, dropped = f"kept-{uuid.uuid4().hex[:8]}", f"dropped-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO caller_tx_orders (id) VALUES (:id)"), {"id": kept})
        handle = client.enqueue_in_transaction(conn, _options(workflow_id=kept), 21)
        assert client.list_workflows(workflow_ids=[kept]) == []  # not there before the caller commits
    assert handle.get_result() == 42  # run by the application's queue, woken by the commit
    with pytest.raises(Boom), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO caller_tx_orders (id) VALUES (:id)"), {"id": dropped})
        client.enqueue_in_transaction(conn, _options(workflow_id=dropped), 1)
        raise Boom()
    assert client.list_workflows(workflow_ids=[dropped]) == []
    assert kept in _orders(engine) and dropped not in _orders(engine)


def test_a_held_deduplication_id_is_refused_and_the_transaction_goes_on(engine: sa.Engine,
                                                                        client: DBOSClient) -> None:
    dedup, order = f"d-{uuid.uuid4().hex[:8]}", f"o-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        first = client.enqueue_in_transaction(conn, _options(deduplication_id=dedup, delay_seconds=3600), 1)
    with engine.begin() as conn:
        with pytest.raises(QueueDeduplicatedError):
            client.enqueue_in_transaction(conn, _options(deduplication_id=dedup), 2)
        conn.execute(sa.text("INSERT INTO caller_tx_orders (id) VALUES (:id)"), {"id": order})
        holder = client.enqueue_in_transaction(conn, _options(deduplication_id=dedup,
                                                              duplication_policy="return-existing"), 3)
        if conn.dialect.name == "postgresql":
            assert conn.execute(sa.text("SHOW search_path")).scalar() == '"$user", public'  # put back
    assert holder.workflow_id == first.workflow_id
    assert order in _orders(engine)  # the caller's own write after the refusal committed
    client.cancel_workflow(first.workflow_id)


def test_messages_sent_in_a_transaction_arrive_when_it_commits(engine: sa.Engine, client: DBOSClient) -> None:
    waiting = DBOS.start_workflow(listen, 30.0)
    other = DBOS.start_workflow(listen, 30.0)
    with pytest.raises(Boom), engine.begin() as conn:
        client.send_in_transaction(conn, waiting.workflow_id, "rolled back", "orders")
        raise Boom()
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        with pytest.raises(NonExistentWorkflowError):
            client.send_bulk_in_transaction(conn, [SendMessage(other.workflow_id, "never", "orders"),
                                                   SendMessage(missing, "x", "orders")])
        client.send_in_transaction(conn, waiting.workflow_id, "order 1", "orders")
        client.send_bulk_in_transaction(conn, [SendMessage(other.workflow_id, "order 2", "orders")])
    assert waiting.get_result() == "order 1"
    assert other.get_result() == "order 2"  # the refused bulk send wrote nothing for it
