"""``tether import-dbos`` from a real dbos==3.4.0 system database, on SQLite and on PostgreSQL.

The DBOS database is made by running ``tests/dbosimport/app.py`` under the real ``dbos`` package (a test
dependency, in the ``dev`` extra) in a subprocess, which is SIGKILLed while two workflows wait in ``recv`` with
steps done and a third waits on their queue. The same application code then runs under Tether here.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tether.error
from tests.conftest import make_config, temporary_pg_database
from tests.dbosimport.shared import ImportAppError
from tether import DBOS, DBOSClient
from tether.cli import main
from tether.engine.dbos_import import import_dbos
from tether.engine.registry import lookup_workflow
from tether.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
FINISHED = ["done-1", "done-1-3", "fail-1", "retry-1", "portable-1", "cancel-1"]
TO_RUN = ["delayed-1", "gate-1", "midstep-1", "queued-1", "wait-1"]


@dataclass
class DbosDatabase:
    source: str
    target: str
    forked: str  # the ID of the fork of done-1 DBOS made (its child is forked + "-3")
    backend: str
    dbos_pid: int


def _run_dbos_app(url: str, tmp_path: Path) -> tuple[str, int]:
    """Run the application under the real dbos==3.4.0 until it is ready, then SIGKILL it."""
    ready = tmp_path / "ready"
    env = {**os.environ, "IMPORT_TEST_IMPL": "dbos",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with (tmp_path / "dbos-app.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.dbosimport.app", url, str(ready)], cwd=REPO,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() or not ready.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the DBOS application did not get ready:\n" + (tmp_path / "dbos-app.log").read_text())
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return ready.read_text(), proc.pid


@pytest.fixture(params=["sqlite", "postgres"])
def dbos_database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                  ) -> Iterator[DbosDatabase]:
    monkeypatch.setenv("IMPORT_RUN_LOG", str(tmp_path / "runs.log"))
    monkeypatch.delenv("IMPORT_TEST_IMPL", raising=False)
    if request.param == "sqlite":
        source = f"sqlite:///{tmp_path / 'dbos.sqlite'}"
        forked, pid = _run_dbos_app(source, tmp_path)
        yield DbosDatabase(source, f"sqlite:///{tmp_path / 'tether.sqlite'}", forked, "sqlite", pid)
        return
    request.getfixturevalue("pg_database")  # skips (or fails under CI) when no server answers
    with temporary_pg_database("tether_import") as url:
        forked, pid = _run_dbos_app(url, tmp_path)
        yield DbosDatabase(url, url, forked, "postgres", pid)  # one database: DBOS in 'dbos', Tether in 'tether'


def _import(capsys: pytest.CaptureFixture[str], source: str, target: str, *extra: str) -> tuple[int, str]:
    code = main(["import-dbos", "--from", source, "--to", target, *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _app() -> object:
    from tests.dbosimport import app

    if lookup_workflow("waiting_wf") is None:  # another test destroyed the registry
        app = importlib.reload(app)
    return app


def _snapshot(client: DBOSClient) -> dict[str, object]:
    """Everything a client reads of the imported workflows, comparable across databases."""
    out: dict[str, object] = {}
    for w in client.list_workflows():
        steps = [(s["function_id"], s["function_name"], repr(s["output"]), repr(s["error"]), s["child_workflow_id"])
                 for s in client.list_workflow_steps(w.workflow_id)]
        out[w.workflow_id] = (w.status, w.name, w.queue_name, w.deduplication_id, w.priority, w.input,
                              repr(w.output), repr(w.error), w.parent_workflow_id, w.forked_from, w.attributes,
                              w.unread_messages_at_end, steps, client.get_all_events(w.workflow_id))
    return out


def _runs(log: Path) -> list[tuple[str, int]]:
    return [(line.split()[0], int(line.split()[1])) for line in log.read_text().splitlines()]


def test_import_then_tether_runs_it(dbos_database: DbosDatabase, capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    src, dst, forked = dbos_database.source, dbos_database.target, dbos_database.forked
    if dbos_database.backend == "sqlite":  # Tether launched on DBOS's file: one clear error, the file untouched
        path = Path(src[len("sqlite:///"):])
        before = path.read_bytes()
        DBOS(config=make_config(src))
        with pytest.raises(ConfigError, match="tether import-dbos --from"):
            DBOS.launch()
        DBOS.destroy()
        assert path.read_bytes() == before
    code, out = _import(capsys, src, dst, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert sorted(report["imported"]) == sorted([*FINISHED, *TO_RUN, forked, f"{forked}-3"])
    assert sorted(report["to_run"]) == TO_RUN
    assert (report["messages"], report["events"], report["event_history"], report["stream_values"]) == (2, 4, 6, 11)
    assert report["steps"] in (33, 34)  # 32 when cancel-1's recv recorded its timeout before the cancel
    assert report["queues"] == ["import_q"] and report["schedules"] == ["yearly"]
    assert report["unmapped_dbos_classes"] == []
    # read one workflow at a time (chunk boundaries everywhere), into a SQLite file: the same rows
    by_one = f"sqlite:///{tmp_path / 'by-one.sqlite'}"
    assert sorted(import_dbos(src, by_one, chunk_size=1).counts.imported) == sorted(report["imported"])
    with DBOSClient(dst) as whole, DBOSClient(by_one) as one:
        assert _snapshot(whole) == _snapshot(one)

    app = _app()
    (tmp_path / "release").touch()  # midstep-1's step, killed under DBOS, completes when run again here
    DBOS(config=make_config(dst, name="import-app"))
    DBOS.launch()
    try:
        # finished workflows: results, errors (DBOS's pickled classes read as Tether's), links, attributes
        assert DBOS.retrieve_workflow("done-1").get_result() == {"a": 2, "c": 102}
        done = DBOS.get_workflow_status("done-1")
        assert done is not None and done.attributes == {"team": "blue"} and done.status == "SUCCESS"
        child = DBOS.get_workflow_status("done-1-3")
        assert child is not None and child.parent_workflow_id == "done-1"
        fork = DBOS.get_workflow_status(forked)
        assert fork is not None and fork.forked_from == "done-1" and fork.status == "SUCCESS"
        with pytest.raises(ImportAppError) as failed:
            DBOS.retrieve_workflow("fail-1").get_result()
        assert failed.value.code == 7
        with pytest.raises(tether.error.DBOSMaxStepRetriesExceeded) as retried:
            DBOS.retrieve_workflow("retry-1").get_result()
        assert retried.value.step_name == "flaky" and len(retried.value.errors) == 2
        assert DBOS.retrieve_workflow("portable-1").get_result() == {"name": "x", "total": 3}
        portable = DBOS.list_workflows(workflow_ids=["portable-1"])[0]
        assert portable.input == {"args": ("x",), "kwargs": {"count": 2}}
        assert DBOS.get_workflow_status("cancel-1").status == "CANCELLED"  # type: ignore[union-attr]
        # events, event values of portable workflows, streams (closed by DBOS)
        assert DBOS.get_event("done-1", "progress") == "done"
        assert DBOS.get_event("portable-1", "seen") == {"name": "x"}
        assert list(DBOS.read_stream("done-1", "numbers")) == [2, 102]
        assert DBOS.get_event("wait-1", "stage") == "waiting"
        # a message DBOS left undelivered to a finished workflow; queue fields; the schedule
        left = DBOS.list_pending_messages("done-1", load_values=True)
        assert [(m.topic, m.value) for m in left] == [("late", "leftover")]
        assert done.unread_messages_at_end == 1
        queued = DBOS.get_workflow_status("queued-1")
        assert queued is not None and (queued.queue_name, queued.deduplication_id, queued.priority) == (
            "import_q", "dedup-q", 3)
        [yearly] = DBOS.list_schedules()
        assert (yearly["schedule_name"], yearly["workflow_name"], yearly["schedule"], yearly["context"]) == (
            "yearly", "tick_wf", "0 3 1 1 *", {"region": "eu"})
        assert yearly["application_name"] == "import-app"  # still its owner's: fired by that application only

        # the workflows DBOS was running when it was killed finish here, from their recorded steps
        DBOS.send("wait-1", "go!", topic="go")
        assert DBOS.retrieve_workflow("wait-1").get_result() == [2, "go!", "payload", 12]  # "payload": pending
        waited = DBOS.get_workflow_status("wait-1")  # it requires "admin": it ran as the identity DBOS recorded
        assert waited is not None and (waited.authenticated_user, waited.authenticated_roles) == ("ops", ["admin"])
        assert list(DBOS.read_stream("wait-1", "log")) == ["one", "two", "three"]
        assert DBOS.read_stream_nowait("wait-1", "steplog").values == ["s1", "t1"]
        assert DBOS.get_event("wait-1", "stage") == "done"
        # DBOS's event history became versions, and the recovered run's set_event the next one
        assert [(c.version, c.value) for c in DBOS.watch_event("done-1", "progress")] == [(1, "half"), (2, "done")]
        assert [(c.version, c.value) for c in DBOS.watch_event("wait-1", "stage")] == [(1, "waiting"), (2, "done")]
        DBOS.send("gate-1", "opened", topic="open")
        assert DBOS.retrieve_workflow("gate-1").get_result() == "opened"
        assert DBOS.retrieve_workflow("queued-1").get_result() == 1005  # its queue was imported, then served
        assert DBOS.retrieve_workflow("delayed-1").get_result() == 1007
        # the step DBOS was killed in runs again (at least once), its stream write before the kill not twice
        assert DBOS.retrieve_workflow("midstep-1").get_result() == "released"
        assert DBOS.read_stream_nowait("midstep-1", "partial").values == ["a", "b"]
        assert app is not None
    finally:
        DBOS.destroy()
    runs = _runs(tmp_path / "runs.log")
    here = os.getpid()
    assert [pid for what, pid in runs if what == "add:wait-1"] == [dbos_database.dbos_pid, here]
    assert [pid for what, pid in runs if what == "add:gate-1"] == [dbos_database.dbos_pid]
    assert [pid for what, pid in runs if what == "add:queued-1"] == [here]
    assert [pid for what, pid in runs if what == "add:delayed-1"] == [here]
    assert [pid for what, pid in runs if what == "blocking:midstep-1"] == [dbos_database.dbos_pid, here]
    assert [pid for what, pid in runs if what == "add:midstep-1"] == [dbos_database.dbos_pid]
    assert all(pid == dbos_database.dbos_pid for what, pid in runs if what.split(":")[1] in FINISHED)

    # a second import changes nothing, and says so
    with DBOSClient(dst) as client:
        before = {w.workflow_id: (w.status, w.output) for w in client.list_workflows()}
    code, out = _import(capsys, src, dst)
    assert code == 0, out
    assert "nothing new: 13 workflows, 1 queue and 1 schedule are in Tether already" in out
    with DBOSClient(dst) as client:
        assert {w.workflow_id: (w.status, w.output) for w in client.list_workflows()} == before


def test_bad_sources_exit_4_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "tether.sqlite"
    to = f"sqlite:///{target}"
    code, out = _import(capsys, f"sqlite:///{tmp_path / 'missing.sqlite'}", to)
    assert (code, out.count("\n")) == (4, 1) and "no such SQLite file" in out
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    code, out = _import(capsys, f"sqlite:///{plain}", to)
    assert (code, out.count("\n")) == (4, 1) and "is not a DBOS system database" in out
    odd = tmp_path / "a dir?with#odd %20chars"
    odd.mkdir()
    newer = odd / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute("CREATE TABLE dbos_migrations (version BIGINT NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO dbos_migrations VALUES (126)")
    conn.close()
    code, out = _import(capsys, f"sqlite:///{newer}", to)
    assert (code, out.count("\n")) == (4, 1) and "schema version 126" in out
    code, out = _import(capsys, "postgresql://postgres@127.0.0.1:1/nowhere", to)
    assert (code, out.count("\n")) == (4, 1) and "cannot connect" in out
    assert not target.exists()  # nothing was written, not even an empty Tether database
    code, out = _import(capsys, f"sqlite:///{newer}", f"sqlite:///{newer}")
    assert code == 2 and "cannot share one SQLite file" in out
    before = newer.read_bytes()  # a DBOS file (of any version) is refused at launch, untouched
    DBOS(config=make_config(f"sqlite:///{newer}"))
    with pytest.raises(ConfigError, match="is a DBOS system database"):
        DBOS.launch()
    DBOS.destroy()
    assert newer.read_bytes() == before


def test_the_target_must_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBOS_SYSTEM_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(["import-dbos", "--from", f"sqlite:///{tmp_path / 'dbos.sqlite'}"])
    out = capsys.readouterr().err
    assert code == 2 and "--to URL" in out and not (tmp_path / "tether-demo.sqlite").exists()


def test_postgres_database_without_dbos_schema_exits_4(pg_database: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _import(capsys, pg_database, f"sqlite:///{tmp_path / 't.sqlite'}")
    assert (code, out.count("\n")) == (4, 1) and "no DBOS system database in schema 'dbos'" in out
    assert not (tmp_path / "t.sqlite").exists()
