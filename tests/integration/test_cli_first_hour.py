"""What a new user of the ``tether`` command runs into first, through its entry point on both backends:
read-only commands that create nothing, help for every option, stream keys, --json anywhere, a closed pipe,
cancel and resume that say what they did."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

from tether import DBOS, SetWorkflowID
from tether.cli import build_parser
from tether.engine.queues import INTERNAL_QUEUE

from ..conftest import PG_ADMIN_URL, _pg_url
from .test_cli import finished_add, run, run_json, tether_command
from .test_http_gateway import CMD, start_driven
from .test_http_management import add

READ_ONLY = [("workflow", "list"), ("workflow", "get", "w"), ("workflow", "steps", "w"), ("queue", "list"),
             ("event", "list", "w"), ("event", "get", "w", "k"), ("stream", "list", "w"),
             ("stream", "read", "w", "k"), ("workflow", "cancel", "w"), ("workflow", "resume", "w"),
             ("send", "w", "1")]


def test_read_only_commands_in_an_empty_folder_create_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBOS_SYSTEM_DATABASE_URL", raising=False)
    for argv in READ_ONLY:
        code, out, err = run(capsys, *argv)
        assert code == 1, argv
        assert err == ("tether: error: database sqlite:///tether-demo.sqlite does not exist; nothing was created. "
                       "Point to yours with --db URL or $DBOS_SYSTEM_DATABASE_URL (tether migrate creates one)\n")
        assert os.listdir(tmp_path) == [], argv
    monkeypatch.setenv("DBOS_SYSTEM_DATABASE_URL", f"sqlite:///{tmp_path / 'mine.sqlite'}")
    code, out = run_json(capsys, "workflow", "list")
    assert code == 1 and out["error"] == "database_not_found" and "mine.sqlite does not exist" in out["detail"]
    assert os.listdir(tmp_path) == []
    assert run(capsys, "migrate")[0] == 0  # the one command that creates it
    assert run(capsys, "workflow", "list")[:2] == (0, f"no workflows in sqlite:///{tmp_path / 'mine.sqlite'}\n")


def _pg_databases() -> set[str]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_read_only_commands_create_no_postgres_database(capsys: pytest.CaptureFixture[str],
                                                         pg_database: str) -> None:
    name = f"tether_cli_missing_{uuid.uuid4().hex[:8]}"
    url = _pg_url(name)
    try:
        for argv in READ_ONLY:
            code, _, err = run(capsys, *argv, "--db", url)
            assert code == 1 and f"database {url} does not exist; nothing was created" in err, argv
        assert name not in _pg_databases()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        code, _, err = run(capsys, "workflow", "list", "--db", url)
        assert code == 1 and f"database {url} holds no Tether tables" in err
        with psycopg.connect(url) as conn:  # and none were created
            assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'tether'").fetchone() == (0,)
        _drop(name)
        assert run(capsys, "migrate", "--db", url)[:2] == (0, f"database {url} created and is up to date\n")
        assert run(capsys, "workflow", "list", "--db", url)[:2] == (0, f"no workflows in {url}\n")
    finally:
        _drop(name)


def _walk(parser: argparse.ArgumentParser, path: str = "tether") -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((path, action))
    return found


def test_every_option_and_argument_has_help() -> None:
    actions = _walk(build_parser())
    assert len(actions) > 60
    missing = [f"{path} {action.dest}" for path, action in actions if not action.help]
    assert missing == []
    epilog = build_parser().epilog or ""
    assert "``" not in epilog and "$DBOS_SYSTEM_DATABASE_URL" in epilog and "3 nothing to do" in epilog


def test_send_says_which_topic(capsys: pytest.CaptureFixture[str], dbos: type[DBOS], db_url: str) -> None:
    w = start_driven()
    assert run(capsys, "send", w, '"hello"', "--db", db_url)[:2] == (
        0, f"sent to {w} with no topic (only a recv() without a topic receives it; --topic T for another)\n")
    assert run(capsys, "send", w, '{"op": "close"}', "--topic", CMD, "--db", db_url)[:2] == (
        0, f"sent to {w} on topic {CMD}\n")
    assert DBOS.retrieve_workflow(w).get_result(timeout_seconds=60) == "done"


def test_stream_list_and_a_key_never_written(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                             db_url: str) -> None:
    w = start_driven()
    assert run(capsys, "stream", "list", w, "--db", db_url)[:2] == (0, f"{w} has written no streams\n")
    for value in ("a", "b"):
        DBOS.send(w, {"op": "write", "value": value}, CMD)
    DBOS.send(w, {"op": "event", "key": "written", "value": True}, CMD)
    assert DBOS.get_event(w, "written", timeout_seconds=60) is True
    code, out, _ = run(capsys, "stream", "list", w, "--db", db_url)
    assert code == 0 and [line.split() for line in out.splitlines()] == [["KEY", "VALUES", "CLOSED"],
                                                                        ["s", "2", "no"]]
    # still running: it may write another key later, so a read says "open" rather than "never"
    assert run(capsys, "stream", "read", w, "other", "--db", db_url)[:2] == (0, "# open, next offset 0\n")
    DBOS.send(w, {"op": "close"}, CMD)
    assert DBOS.retrieve_workflow(w).get_result(timeout_seconds=60) == "done"
    assert run_json(capsys, "stream", "list", w, "--db", db_url) == (
        0, {"workflow_id": w, "streams": [{"key": "s", "values": 2, "closed": True}]})
    for follow in ((), ("--follow",)):
        code, out, err = run(capsys, "stream", "read", w, "wrongkey", *follow, "--db", db_url)
        assert (code, out) == (1, "")
        assert err == f"tether: error: {w} (SUCCESS) never wrote a stream 'wrongkey'; its streams: s\n"
    code, out = run_json(capsys, "stream", "read", w, "wrongkey", "--db", db_url)
    assert code == 1 and out["error"] == "stream_not_found"
    assert run(capsys, "stream", "read", w, "s", "--db", db_url)[:2] == (0, '0\t"a"\n1\t"b"\n# closed, next offset 2\n')


def test_json_before_the_command_and_status_in_any_case(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                                        db_url: str) -> None:
    w = finished_add(1, 2)
    for argv in (("--json", "workflow", "list"), ("workflow", "list", "--json"), ("--json", "--db", db_url,
                                                                                   "workflow", "list")):
        code, out, _ = run(capsys, *argv, "--db", db_url, "--prefix", w)
        assert code == 0 and out.startswith("[") and w in out, argv
    for status in ("success", "Success", "SUCCESS"):
        code, listed = run_json(capsys, "workflow", "list", "--status", status, "--prefix", w, "--db", db_url)
        assert code == 0 and [s["workflow_id"] for s in listed] == [w]
    code, listed = run_json(capsys, "--db", db_url, "workflow", "list", "--status", "error", "--prefix", w)
    assert (code, listed) == (0, [])


def test_a_closed_pipe_ends_quietly(dbos: type[DBOS], db_url: str) -> None:
    """``tether workflow list | head -1``: the reader is gone before the output is written."""
    finished_add(1, 1)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([*tether_command(), "workflow", "list", "--db", db_url], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_cancel_and_resume_say_what_happened(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                             db_url: str) -> None:
    done = finished_add(3, 4)
    assert run(capsys, "workflow", "cancel", done, "--db", db_url)[:2] == (
        3, f"not cancelled: {done} has already ended (SUCCESS)\n")
    code, out, _ = run(capsys, "workflow", "resume", done, "--db", db_url)
    assert code == 3 and out.startswith(f"not resumed: {done} has ended (SUCCESS); only CANCELLED")
    code, out = run_json(capsys, "workflow", "resume", done, "--db", db_url)
    assert code == 3 and (out["changed"], out["status"]) == (False, "SUCCESS")

    w = start_driven()
    code, out = run_json(capsys, "workflow", "cancel", w, "--db", db_url)
    assert code == 0 and (out["changed"], out["status"], out["was"]) == (True, "CANCELLED", "PENDING")
    assert run(capsys, "workflow", "cancel", w, "--db", db_url)[:2] == (3, f"not cancelled: {w} was already "
                                                                          "cancelled\n")
    code, out, _ = run(capsys, "workflow", "resume", w, "--db", db_url)
    assert code == 0 and out.startswith(f"resumed {w} (was CANCELLED, now ")
    # resumed through the internal queue: no queue of the user's, so neither shown nor listed
    code, status = run_json(capsys, "workflow", "get", w, "--db", db_url)
    assert code == 0 and status["queue_name"] is None
    assert INTERNAL_QUEUE not in run(capsys, "workflow", "get", w, "--db", db_url)[1]
    assert INTERNAL_QUEUE not in run(capsys, "workflow", "list", "--prefix", w, "--db", db_url)[1]
    code, listed = run_json(capsys, "queue", "list", "--db", db_url)
    assert code == 0 and w not in [s["workflow_id"] for s in listed]
    DBOS.send(w, {"op": "close"}, CMD)
    assert DBOS.retrieve_workflow(w).get_result(timeout_seconds=60) == "done"
    assert run(capsys, "workflow", "resume", w, "--db", db_url)[0] == 3


def test_workflow_list_defaults_to_newest_first(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                                db_url: str) -> None:
    prefix = f"order-{uuid.uuid4().hex[:6]}-"
    ids = []
    for i in range(3):
        with SetWorkflowID(f"{prefix}{i}"):
            ids.append(DBOS.start_workflow(add, i, i).workflow_id)
        DBOS.retrieve_workflow(ids[-1]).get_result()
    code, listed = run_json(capsys, "workflow", "list", "--prefix", prefix, "--db", db_url)
    assert code == 0 and [s["workflow_id"] for s in listed] == ids[::-1]
    code, listed = run_json(capsys, "workflow", "list", "--prefix", prefix, "--oldest", "--db", db_url)
    assert code == 0 and [s["workflow_id"] for s in listed] == ids


def test_ctrl_c_while_following_a_stream(dbos: type[DBOS], db_url: str) -> None:
    """One line and exit 130; the workflow is left running."""
    w = start_driven()
    DBOS.send(w, {"op": "write", "value": 1}, CMD)
    follower = subprocess.Popen([*tether_command(), "stream", "read", w, "s", "--follow", "--db", db_url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "0\t1\n"  # it is following now
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert (follower.returncode, out, err) == (130, "", "tether: interrupted\n")
    assert DBOS.get_workflow_status(w).status == "PENDING"  # type: ignore[union-attr]
    DBOS.send(w, {"op": "close"}, CMD)
    assert DBOS.retrieve_workflow(w).get_result(timeout_seconds=60) == "done"
