"""The application of the datasource tests: workflows whose steps are transactions on an application database
(a table ``items``). Run as a process (``python -m tests.datasource.app SYS_URL APP_URL EXECUTOR WORKDIR WFID``)
it starts ``order`` and freezes right after the transaction commits, before the step's checkpoint reaches the
system database, so that the test can kill it there."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from tether import DBOS, AsyncSQLAlchemyDatasource, SetWorkflowID, SQLAlchemyDatasource

DS: SQLAlchemyDatasource | None = None
ADS: AsyncSQLAlchemyDatasource | None = None


def open_datasource(app_url: str) -> SQLAlchemyDatasource:
    global DS
    DS = SQLAlchemyDatasource.create(app_url)
    with DS.engine.begin() as conn:
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT" if DS.is_sqlite else "SERIAL PRIMARY KEY"
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS items (id {serial}, name TEXT NOT NULL)"))
        conn.execute(text("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL)"))
    return DS


async def open_async_datasource(app_url: str) -> AsyncSQLAlchemyDatasource:
    global ADS
    ADS = await AsyncSQLAlchemyDatasource.create(app_url)
    return ADS


async def place_async(name: str) -> int:
    assert ADS is not None
    result = await ADS.sql_session().execute(text("INSERT INTO items (name) VALUES (:n) RETURNING id"), {"n": name})
    return int(result.scalar_one())


@DBOS.workflow(name="ds.order_async")
async def order_async(name: str) -> list[int]:
    assert ADS is not None
    first = await ADS.run_tx_step_async({"name": "place"}, place_async, name)
    second = await ADS.run_tx_step_async({"name": "place"}, place_async, name + "-2")
    return [first, second]


def place(name: str) -> int:
    assert DS is not None
    session = DS.sql_session()
    return int(session.execute(text("INSERT INTO items (name) VALUES (:n) RETURNING id"), {"n": name}).scalar_one())


@DBOS.workflow(name="ds.order")
def order(name: str) -> list[int]:
    assert DS is not None
    first = DS.run_tx_step({"name": "place"}, place, name)
    second = DS.run_tx_step({"name": "place"}, place, name + "-2")
    return [first, second]


def items(ds: SQLAlchemyDatasource) -> list[tuple[Any, ...]]:
    with ds.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, name FROM items ORDER BY id"))]


def checkpoints(ds: SQLAlchemyDatasource) -> int:
    table = "datasource_outputs" if ds.is_sqlite else "dbos.datasource_outputs"
    with ds.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _main() -> None:
    sys_url, app_url, executor, workdir, wfid, kind = sys.argv[1:7]
    open_datasource(app_url)

    def freeze(session: Session) -> None:  # the transaction committed; its step's checkpoint is not written yet
        (Path(workdir) / "committed").write_text("1")
        time.sleep(3600)

    event.listen(Session, "after_commit", freeze)
    # the tests' application and version (tests/conftest.make_config): the database is shared with other tests,
    # and a version registered under another application's name would be refused to them
    DBOS(config={"name": "tether-test", "system_database_url": sys_url, "executor_id": executor,
                 "application_version": "test"})
    DBOS.launch()
    if kind == "async":
        import asyncio

        async def run() -> None:
            await open_async_datasource(app_url)
            with SetWorkflowID(wfid):
                await order_async("widget")

        asyncio.run(run())
    with SetWorkflowID(wfid):
        order("widget")


if __name__ == "__main__":
    _main()
