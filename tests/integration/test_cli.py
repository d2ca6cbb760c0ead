"""The ``tether`` CLI through its entry point (``tether.cli.main`` and the installed ``tether`` command),
against a real database on both backends: output, --json, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
import uuid
from typing import Any

import httpx
import pytest

from tether import DBOS, SetWorkflowID
from tether.cli import main

from .test_http_gateway import CMD, identity, start_driven
from .test_http_management import add


def tether_command() -> list[str]:
    found = shutil.which("tether")
    return [found] if found else [sys.executable, "-m", "tether.cli"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


def finished_add(a: int, b: int) -> str:
    w = f"cli-{uuid.uuid4().hex[:8]}"
    with SetWorkflowID(w):
        assert DBOS.start_workflow(add, a, b).get_result() == a + b
    return w


def test_migrate_and_usage_errors(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    assert run(capsys, "migrate", "--db", db_url)[:2] == (0, f"database {db_url} is up to date\n")
    assert run_json(capsys, "migrate", "--db", db_url) == (0, {"database": db_url, "migrated": True,
                                                               "created": False})
    assert run(capsys, "workflow")[0] == 2  # no action
    assert run(capsys, "frobnicate")[0] == 2
    code, _, err = run(capsys, "migrate", "--db", "mysql://nope")
    assert code == 2 and "Unsupported database URL" in err
    code, out = run_json(capsys, "workflow", "list", "--db", db_url, "--status", "SLEEPY")
    assert code == 2 and out["error"] == "usage"
    code, _, err = run(capsys, "migrate", "--db", "sqlite:////no/such/directory/x.sqlite")
    assert code == 1 and "Cannot open SQLite database" in err
    code, _, err = run(capsys, "workflow", "list", "--db", "sqlite:////no/such/directory/x.sqlite")
    assert code == 1 and "sqlite:////no/such/directory/x.sqlite does not exist" in err
    code, out, _ = run(capsys, "--help")
    assert "DBOS_SYSTEM_DATABASE_URL" in out and "sqlite:///tether-demo.sqlite" in out and "Exit codes" in out


def test_workflow_get_list_and_steps(capsys: pytest.CaptureFixture[str], dbos: type[DBOS], db_url: str) -> None:
    w = finished_add(2, 3)
    code, out, _ = run(capsys, "workflow", "get", w, "--db", db_url)
    assert code == 0
    assert {tuple(line.split(None, 1)) for line in out.splitlines()} >= {
        ("workflow_id", w), ("status", "SUCCESS"), ("name", "test_http.add"), ("output", "5")}
    code, status = run_json(capsys, "workflow", "get", w, "--db", db_url)
    assert code == 0 and (status["workflow_id"], status["output"], status["input"]) == (
        w, 5, {"args": [2, 3], "kwargs": {}})
    code, out = run_json(capsys, "workflow", "get", "no-such-workflow", "--db", db_url)
    assert code == 1 and out["error"] == "workflow_not_found"

    code, out, _ = run(capsys, "workflow", "list", "--db", db_url, "--prefix", w)
    header, row = out.splitlines()
    assert header.split() == ["WORKFLOW_ID", "STATUS", "NAME", "QUEUE", "CREATED", "UPDATED"]
    assert row.split()[:4] == [w, "SUCCESS", "test_http.add", "-"]
    code, listed = run_json(capsys, "workflow", "list", "--db", db_url, "--prefix", "cli-", "--status", "SUCCESS")
    assert code == 0 and w in [s["workflow_id"] for s in listed]
    assert run_json(capsys, "workflow", "list", "--db", db_url, "--prefix", w, "--status", "ERROR") == (0, [])

    code, steps = run_json(capsys, "workflow", "steps", w, "--db", db_url)
    assert code == 0 and steps == []  # add() records no operations
    d = start_driven()
    DBOS.send(d, {"op": "event", "key": "k", "value": "v"}, CMD)
    assert DBOS.get_event(d, "k", timeout_seconds=30) == "v"
    code, out, _ = run(capsys, "workflow", "steps", d, "--db", db_url)
    assert [line.split()[:2] for line in out.splitlines()[1:4]] == [
        ["1", "DBOS.recv"], ["2", "DBOS.sleep"], ["3", "DBOS.setEvent"]]  # a recv records its deadline as a sleep
    assert run(capsys, "workflow", "steps", "no-such-workflow", "--db", db_url)[0] == 1
    DBOS.send(d, {"op": "close"}, CMD)


def test_send_event_and_stream(capsys: pytest.CaptureFixture[str], dbos: type[DBOS], db_url: str) -> None:
    w = start_driven()
    assert run(capsys, "send", w, '{"op": "write", "value": [1, "a"]}', "--topic", CMD, "--db", db_url)[:2] == (
        0, f"sent to {w} on topic {CMD}\n")
    msg = '{"op": "event", "key": "progress", "value": 42}'
    for _ in range(2):  # one idempotency key: delivered once
        assert run(capsys, "send", w, msg, "--topic", CMD, "--idempotency-key", "k", "--db", db_url)[0] == 0
    assert run(capsys, "event", "get", w, "progress", "--timeout", "30", "--db", db_url)[:2] == (0, "42\n")
    assert run_json(capsys, "event", "get", w, "progress", "--db", db_url) == (
        0, {"workflow_id": w, "key": "progress", "value": 42})
    code, out = run_json(capsys, "event", "get", w, "absent", "--db", db_url)
    assert code == 1 and out["error"] == "event_not_found"
    assert run_json(capsys, "event", "list", w, "--db", db_url) == (0, {"workflow_id": w,
                                                                       "events": {"progress": 42}})
    code, out, _ = run(capsys, "stream", "read", w, "s", "--db", db_url)
    assert (code, out) == (0, '0\t[1,"a"]\n# open, next offset 1\n')

    assert run(capsys, "send", w, "not json", "--db", db_url)[0] == 2
    code, out = run_json(capsys, "send", "no-such-workflow", "1", "--db", db_url)
    assert code == 1 and out["error"] == "workflow_not_found"
    assert run(capsys, "stream", "read", w, "s", "--offset", "-1", "--db", db_url)[0] == 2

    DBOS.send(w, {"op": "close"}, CMD)
    DBOS.retrieve_workflow(w).get_result()
    assert run_json(capsys, "stream", "read", w, "s", "--db", db_url) == (
        0, {"values": [[1, "a"]], "closed": True, "next_offset": 1})
    code, out, _ = run(capsys, "stream", "read", w, "s", "--follow", "--json", "--db", db_url)
    assert (code, out) == (0, '{"offset":0,"value":[1,"a"]}\n')


def test_stream_follow_prints_values_as_they_arrive(dbos: type[DBOS], db_url: str) -> None:
    w = start_driven()
    follower = subprocess.Popen([*tether_command(), "stream", "read", w, "s", "--follow", "--json", "--db", db_url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        for i in range(3):
            DBOS.send(w, {"op": "write", "value": {"i": i}}, CMD)
            assert json.loads(follower.stdout.readline()) == {"offset": i, "value": {"i": i}}
        DBOS.send(w, {"op": "close"}, CMD)
        assert follower.wait(timeout=60) == 0
        assert follower.stdout.read() == ""
    finally:
        follower.kill()


def test_cancel_resume_fork_and_queue_list(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                           db_url: str) -> None:
    w = start_driven()
    assert run(capsys, "workflow", "cancel", w, "--db", db_url)[:2] == (
        0, f"cancelled {w} (was PENDING): tether workflow resume {w} continues it\n")
    assert DBOS.get_workflow_status(w).status == "CANCELLED"  # type: ignore[union-attr]
    code, out = run_json(capsys, "workflow", "resume", w, "--db", db_url)
    assert code == 0 and out["workflow_id"] == w and out["status"] in ("ENQUEUED", "PENDING")
    DBOS.send(w, {"op": "close"}, CMD)
    assert DBOS.retrieve_workflow(w).get_result(timeout_seconds=60) == "done"
    fork_id = f"{w}-copy"
    code, out, _ = run(capsys, "workflow", "fork", w, "--step", "1", "--id", fork_id, "--db", db_url)
    assert code == 0 and out.startswith(f"forked {w} from step 1 as {fork_id}:")
    DBOS.send(fork_id, {"op": "close"}, CMD)
    assert DBOS.retrieve_workflow(fork_id).get_result(timeout_seconds=60) == "done"
    assert DBOS.get_workflow_status(fork_id).forked_from == w  # type: ignore[union-attr]
    for action in ("cancel", "resume", "fork"):
        assert run(capsys, "workflow", action, "no-such-workflow", "--db", db_url)[0] == 1, action

    queue = f"cli-queue-{uuid.uuid4().hex[:6]}"
    from tether import DBOSClient

    with DBOSClient(db_url) as client:
        parked = client.enqueue({"queue_name": queue, "workflow_name": "test_http.add"}, 1, 1).workflow_id
    code, out, _ = run(capsys, "queue", "list", queue, "--db", db_url)
    assert code == 0 and out.splitlines()[1].split()[:4] == [parked, "ENQUEUED", "test_http.add", queue]
    code, listed = run_json(capsys, "queue", "list", "--db", db_url)
    assert parked in [s["workflow_id"] for s in listed]
    DBOS.cancel_workflow(parked)
    assert run(capsys, "queue", "list", queue, "--db", db_url)[:2] == (0, f"no workflows in {db_url}\n")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_the_gateway_with_a_token(dbos: type[DBOS], db_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "DBOS_SYSTEM_DATABASE_URL": db_url, "TETHER_TOKEN": "t0k"}
    server = subprocess.Popen([*tether_command(), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:  # uvicorn logs this once the socket listens
            if "Uvicorn running on" in line:
                break
        w = finished_add(20, 22)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/workflows/{w}").status_code == 401
        got = httpx.get(f"{base}/workflows/{w}", headers={"Authorization": "Bearer t0k"})
        assert got.status_code == 200 and got.json()["output"] == 42
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_cli_works_without_fastapi(db_url: str) -> None:
    """Only serve and demo need the http extra; they say so (exit 1) when it is missing."""
    blocked = ("import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None; "
               "from tether.cli import main; sys.exit(main(sys.argv[1:]))")
    migrated = subprocess.run([sys.executable, "-c", blocked, "migrate", "--db", db_url], capture_output=True,
                              text=True, timeout=60)
    assert migrated.returncode == 0, migrated.stderr
    listed = subprocess.run([sys.executable, "-c", blocked, "workflow", "list", "--json", "--db", db_url],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)
    demo = subprocess.run([sys.executable, "-c", blocked, "demo", "--db", db_url], capture_output=True, text=True,
                          timeout=60)
    assert demo.returncode == 1 and "pip install 'tether[http]'" in demo.stderr


def test_values_the_cli_cannot_decode_are_marked(capsys: pytest.CaptureFixture[str], dbos: type[DBOS],
                                                  db_url: str) -> None:
    """The CLI runs outside the application: its pickled classes may not be importable here."""
    module = types.ModuleType("tether_cli_vanishing")
    exec("class Gone:\n    pass\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        w = f"cli-gone-{uuid.uuid4().hex[:8]}"
        with SetWorkflowID(w):
            DBOS.start_workflow(identity, module.Gone()).get_result()
    finally:
        del sys.modules[module.__name__]
    code, listed = run_json(capsys, "workflow", "list", "--prefix", w, "--db", db_url)
    assert code == 0 and [s["workflow_id"] for s in listed] == [w]
    assert listed[0]["output"]["$tether_error"] == "undecodable"
    code, status = run_json(capsys, "workflow", "get", w, "--db", db_url)
    assert code == 0 and status["status"] == "SUCCESS" and status["input"]["$tether_error"] == "undecodable"
    code, out, _ = run(capsys, "workflow", "get", w, "--db", db_url)
    assert code == 0 and "undecodable" in out
