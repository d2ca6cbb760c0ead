"""The application's own PostgreSQL database restarted and stopped under datasource transactions (a cluster of
the test's own): no workflow fails for it, and no transaction's writes are lost or committed twice, even when
the connection drops while a commit is in flight (then the next attempt finds the recorded outcome and
returns it instead of writing again)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from tests.conftest import make_config
from tests.faults.conftest import PgCluster
from tether import DBOS, SQLAlchemyDatasource

TRANSACTIONS = 40


def test_restart_and_stop_of_the_application_database_lose_and_double_nothing(pg_cluster: PgCluster,
                                                                               tmp_path: Path) -> None:
    shop = SQLAlchemyDatasource.create(pg_cluster.create_database("shop"), engine_kwargs={"pool_pre_ping": True})
    with shop.engine.begin() as conn:
        conn.execute(text("CREATE TABLE sales (wf TEXT NOT NULL, i INTEGER NOT NULL, PRIMARY KEY (wf, i))"))
    tag = uuid.uuid4().hex[:8]

    @shop.transaction(name=f"sell-{tag}")
    def sell(i: int) -> int:
        shop.sql_session().execute(text("INSERT INTO sales (wf, i) VALUES (:wf, :i)"),
                                   {"wf": DBOS.workflow_id, "i": i})
        time.sleep(0.01)  # a transaction that is open for a while, so that the faults cut some of them
        return i

    @DBOS.workflow(name=f"seller-{tag}")
    def seller() -> int:
        return sum(sell(i) for i in range(TRANSACTIONS))

    DBOS(config=make_config(f"sqlite:///{tmp_path / 'sys.sqlite'}"))
    DBOS.launch()
    try:
        handles = [DBOS.start_workflow(seller) for _ in range(3)]

        def faults() -> None:
            time.sleep(0.15)
            pg_cluster.restart()  # every connection is cut, some in the middle of a transaction or its commit
            time.sleep(0.2)
            pg_cluster.stop()
            time.sleep(1.0)  # down for a second: the transactions wait for it
            pg_cluster.start()

        breaker = threading.Thread(target=faults)
        breaker.start()
        results = [h.get_result() for h in handles]
        breaker.join()
        assert results == [sum(range(TRANSACTIONS))] * 3
        for h in handles:
            assert h.get_status().status == "SUCCESS"
        with shop.engine.connect() as conn:
            rows = conn.execute(text("SELECT wf, count(*), count(DISTINCT i) FROM sales GROUP BY wf")).fetchall()
        assert sorted((n, distinct) for _, n, distinct in rows) == [(TRANSACTIONS, TRANSACTIONS)] * 3
    finally:
        DBOS.destroy()
        shop.engine.dispose()
