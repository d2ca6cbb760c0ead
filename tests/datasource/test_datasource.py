"""``SQLAlchemyDatasource`` on both backends (the system database and the application database of the same
kind): a transaction in a workflow is a step whose writes and checkpoint commit together, so a process killed
between its commit and the step's checkpoint does not run it twice when the workflow is recovered; errors
roll back and are the step's outcome; conflicting serializable transactions are run again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import make_config, temporary_pg_database
from tests.datasource import app
from tether import DBOS, DBOSException, SQLAlchemyDatasource

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The application's own database, of the same kind as the system database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.sqlite'}"
        return
    with temporary_pg_database("tether_app") as url:
        yield url


@pytest.fixture
def ds(app_url: str) -> Iterator[SQLAlchemyDatasource]:
    source = app.open_datasource(app_url)
    try:
        yield source
    finally:
        source.engine.dispose()


def test_a_transaction_in_a_workflow_is_a_step_that_commits_with_its_checkpoint(
        dbos: type[DBOS], ds: SQLAlchemyDatasource) -> None:
    handle = DBOS.start_workflow(app.order, "apple")
    first, second = handle.get_result()
    assert app.items(ds) == [(first, "apple"), (second, "apple-2")]
    steps = DBOS.list_workflow_steps(handle.workflow_id)
    assert [(s["function_name"], s["output"]) for s in steps] == [("place", first), ("place", second)]
    assert app.checkpoints(ds) == 0  # each row went once its step was checkpointed in the system database


def test_outside_a_workflow_it_is_a_plain_transaction(dbos: type[DBOS], ds: SQLAlchemyDatasource) -> None:
    @ds.transaction
    def rename(old: str, new: str) -> int:
        return ds.sql_session().execute(text("UPDATE items SET name = :new WHERE name = :old"),
                                        {"old": old, "new": new}).rowcount

    ds.run_tx_step(None, app.place, "pear")
    assert rename("pear", "plum") == 1
    assert [name for _, name in app.items(ds)] == ["plum"]
    assert app.checkpoints(ds) == 0
    with pytest.raises(DBOSException, match="within a sync datasource transaction"):
        ds.sql_session()


class Refused(Exception):
    pass


def test_an_error_rolls_the_transaction_back_and_is_the_steps_outcome(dbos: type[DBOS],
                                                                      ds: SQLAlchemyDatasource) -> None:
    @ds.transaction(name="place_then_fail")
    def place_then_fail(name: str) -> None:
        app.place(name)
        raise Refused(name)

    @DBOS.workflow(name="ds.fails")
    def fails() -> str:
        try:
            place_then_fail("ghost")
        except Refused as exc:
            return f"refused {exc}"
        return "ran"

    handle = DBOS.start_workflow(fails)
    assert handle.get_result() == "refused ghost"
    assert app.items(ds) == []
    [step] = DBOS.list_workflow_steps(handle.workflow_id)
    assert step["function_name"] == "place_then_fail" and isinstance(step["error"], Refused)
    assert app.checkpoints(ds) == 0  # the error is checkpointed in the system database: its row went


def test_a_workflow_rewound_to_a_failed_transaction_runs_it_again(dbos: type[DBOS],
                                                                  ds: SQLAlchemyDatasource) -> None:
    stock = {"lamps": 0}

    @ds.transaction(name="sell_lamp")
    def sell_lamp() -> int:
        if stock["lamps"] == 0:
            raise Refused("out of lamps")
        return app.place("lamp")

    @DBOS.workflow(name="ds.sell")
    def sell() -> int:
        return sell_lamp()

    handle = DBOS.start_workflow(sell)
    with pytest.raises(Refused):
        handle.get_result()
    stock["lamps"] = 1  # restocked: the same step, run again, now succeeds
    DBOS.rewind_workflow(handle.workflow_id, start_step=1)
    assert DBOS.retrieve_workflow(handle.workflow_id).get_result() == app.items(ds)[0][0]


def test_conflicting_serializable_transactions_are_run_again(dbos: type[DBOS], ds: SQLAlchemyDatasource) -> None:
    with ds.engine.begin() as conn:
        conn.execute(text("INSERT INTO counters (name, n) VALUES ('hits', 0)"))

    @ds.transaction(name="bump")
    def bump() -> int:
        session = ds.sql_session()
        n = int(session.execute(text("SELECT n FROM counters WHERE name = 'hits'")).scalar_one())
        time.sleep(0.005)  # widen the window in which the other thread reads the same value
        session.execute(text("UPDATE counters SET n = :n WHERE name = 'hits'"), {"n": n + 1})
        return n + 1

    @DBOS.workflow(name="ds.bumps")
    def bumps(times: int) -> list[int]:
        return [bump() for _ in range(times)]

    handles = [DBOS.start_workflow(bumps, 10) for _ in range(3)]
    seen = sorted(v for h in handles for v in h.get_result())
    assert seen == list(range(1, 31))  # no lost update: every increment saw the one before it


def test_bad_options_are_refused(ds: SQLAlchemyDatasource, app_url: str) -> None:
    async def coroutine() -> None:
        return None

    with pytest.raises(DBOSException, match="coroutine"):
        ds.transaction(coroutine)
    from sqlalchemy.orm import sessionmaker

    with pytest.raises(DBOSException, match="binds"):
        SQLAlchemyDatasource.create(app_url, sessionmaker=sessionmaker(binds={object: ds.engine}))
    if not ds.is_sqlite:
        with pytest.raises(DBOSException, match="missing or unreadable"):
            SQLAlchemyDatasource.create(app_url, schema="nowhere", run_migrations=False)


async def _open_without_connections(app_url: str) -> None:
    """The async datasource, its pool emptied: its connections belong to the loop that opens them, and the
    recovered workflow runs on Tether's."""
    await (await app.open_async_datasource(app_url)).engine.dispose()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_process_killed_after_the_commit_does_not_commit_twice_when_recovered(
        db_url: str, app_url: str, tmp_path: Path, kind: str) -> None:
    executor, wfid = f"ds-{uuid.uuid4().hex[:8]}", f"order-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen([sys.executable, "-m", "tests.datasource.app", db_url, app_url, executor,
                               str(tmp_path), wfid, kind], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "committed").exists():
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "the worker never committed its transaction"
            time.sleep(0.02)
    finally:
        worker.kill()
        worker.communicate(timeout=30)
    ds = app.open_datasource(app_url)
    try:
        [(first_id, name)] = app.items(ds)  # committed by the killed process, its step not checkpointed
        assert name == "widget" and app.checkpoints(ds) == 1
        if kind == "async":  # the recovered run's transactions use the async datasource, opened first
            asyncio.run(_open_without_connections(app_url))
        DBOS(config=make_config(db_url, executor_id=executor))
        DBOS.launch()  # recovers the workflow: the first transaction replays from its row, the second runs
        try:
            result = DBOS.retrieve_workflow(wfid).get_result()
        finally:
            DBOS.destroy()
            if app.ADS is not None:
                asyncio.run(app.ADS.engine.dispose())
                app.ADS = None
        assert result[0] == first_id
        assert [n for _, n in app.items(ds)] == ["widget", "widget-2"]  # the first one once, not twice
        assert app.checkpoints(ds) == 0
    finally:
        ds.engine.dispose()


def test_concurrent_callers_outside_workflows_each_commit(ds: SQLAlchemyDatasource) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            ds.run_tx_step(None, app.place, f"t{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(app.items(ds)) == 4


def test_async_transactions_are_steps_plain_outside_workflows_and_roll_back_on_errors(
        dbos: type[DBOS], ds: SQLAlchemyDatasource, app_url: str) -> None:
    async def main() -> None:
        ads = await app.open_async_datasource(app_url)
        try:
            handle = await DBOS.start_workflow_async(app.order_async, "kiwi")
            first, second = await handle.get_result()
            steps = await DBOS.list_workflow_steps_async(handle.workflow_id)
            assert [(s["function_name"], s["output"]) for s in steps] == [("place", first), ("place", second)]

            @ads.transaction(name="boom")
            async def boom() -> None:
                await app.place_async("ghost")
                raise Refused("boom")

            with pytest.raises(Refused):
                await boom()
            assert await ads.run_tx_step_async(None, app.place_async, "lime") > second
            with pytest.raises(DBOSException, match="within a async datasource transaction"):
                ads.sql_session()
            with pytest.raises(DBOSException, match="coroutine"):
                ads.transaction(app.place)
        finally:
            await ads.engine.dispose()
            app.ADS = None

    asyncio.run(main())
    assert [n for _, n in app.items(ds)] == ["kiwi", "kiwi-2", "lime"]
    assert app.checkpoints(ds) == 0
