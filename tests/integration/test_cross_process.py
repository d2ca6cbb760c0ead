"""Across processes: a client process sends to a waiting workflow and reads a live stream to its end.

The other process is a real subprocess using ``DBOSClient``; wake-ups reach it through LISTEN/NOTIFY on
PostgreSQL and through the polled wake-up log on SQLite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from tether import DBOS, DBOSClient


def _run_client(db_url: str, code: str) -> subprocess.Popen[str]:
    script = "import json, sys\nfrom tether import DBOSClient\nclient = DBOSClient(sys.argv[1])\n"
    script += textwrap.dedent(code) + "\nclient.destroy()\n"
    return subprocess.Popen([sys.executable, "-c", script, db_url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@DBOS.workflow()
def waits_for_approval() -> object:
    DBOS.set_event("state", "waiting")
    return DBOS.recv("approval", timeout_seconds=60)


@DBOS.workflow()
def slow_producer(n: int) -> int:
    for i in range(n):
        DBOS.write_stream("ticks", i)
        DBOS.sleep(0.02)
    return n


def test_client_process_sends_to_waiting_workflow(dbos: type[DBOS], db_url: str) -> None:
    handle = DBOS.start_workflow(waits_for_approval)
    assert DBOS.get_event(handle.workflow_id, "state", 10) == "waiting"
    proc = _run_client(db_url, f"""
        assert client.get_event({handle.workflow_id!r}, "state", 10) == "waiting"
        client.send({handle.workflow_id!r}, {{"approved": True}}, "approval", idempotency_key="k1")
        client.send({handle.workflow_id!r}, {{"approved": False}}, "approval", idempotency_key="k1")
        print(json.dumps(client.retrieve_workflow({handle.workflow_id!r}).get_result()))
    """)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out) == {"approved": True}
    assert handle.get_result() == {"approved": True}


def test_workflow_process_wakes_reader_in_this_process(db_url: str, tmp_path: object) -> None:
    """The reverse direction: the workflow runs here, the reader is another process following live."""
    DBOS.destroy()
    from tests.conftest import make_config

    DBOS(config=make_config(db_url))
    DBOS.launch()
    try:
        handle = DBOS.start_workflow(slow_producer, 30)
        proc = _run_client(db_url, f"""
            values = list(client.read_stream({handle.workflow_id!r}, "ticks"))
            print(json.dumps(values))
        """)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert json.loads(out) == list(range(30))
        assert handle.get_result() == 30
    finally:
        DBOS.destroy()


def test_client_in_this_process_follows_stream_of_another_process(db_url: str) -> None:
    """A workflow in a subprocess writes; a DBOSClient here reads the live stream to its end."""
    DBOS.destroy()
    script = textwrap.dedent("""
        import sys, time
        from tether import DBOS, SetWorkflowID
        DBOS(config={"name": "producer", "system_database_url": sys.argv[1], "executor_id": sys.argv[2],
                     "application_version": "x"})
        DBOS.launch()

        @DBOS.workflow()
        def produce() -> int:
            DBOS.recv("start", timeout_seconds=30)
            for i in range(20):
                DBOS.write_stream("live", i)
                DBOS.sleep(0.02)
            DBOS.close_stream("live")
            return 20

        with SetWorkflowID(sys.argv[2]):
            handle = DBOS.start_workflow(produce)
        print("started", flush=True)
        handle.get_result()
        DBOS.destroy()
    """)
    wfid = f"producer-{time.time_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", script, db_url, wfid], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    with DBOSClient(db_url) as client:
        client.send(wfid, "go", "start")
        values = list(client.read_stream(wfid, "live"))
        assert client.retrieve_workflow(wfid).get_result() == 20
    assert values == list(range(20))
    proc.communicate(timeout=30)
    assert proc.returncode == 0
