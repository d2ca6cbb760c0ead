"""One application, run first by the real ``dbos==3.4.0`` (``IMPORT_TEST_IMPL=dbos``, as a subprocess that is
SIGKILLed mid-way) and then by Tether (the default) after ``tether import-dbos``: the same code, so the same
workflow and step names and the same operation numbers.

    IMPORT_TEST_IMPL=dbos IMPORT_RUN_LOG=runs.log python -m tests.dbosimport.app URL READY_FILE

populates the DBOS system database at URL (finished, failed, cancelled, forked, child, portable, queued and
delayed workflows, events, streams, pending messages, a registered queue, a schedule), starts ``waiting_wf``
and ``gate_wf`` so that they wait in ``recv`` with steps done, and ``midstep_wf`` so that it blocks inside a
step that wrote a stream value, then writes READY_FILE and waits to be killed.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.dbosimport.shared import ImportAppError, log_run, runs

IMPL = os.environ.get("IMPORT_TEST_IMPL", "tether")
lib: Any = importlib.import_module(IMPL)
DBOS: Any = lib.DBOS

@DBOS.step()
def add(a: int, b: int) -> int:
    log_run(f"add:{DBOS.workflow_id}")
    return a + b


@DBOS.step(retries_allowed=True, max_attempts=2, interval_seconds=0.01)
def flaky() -> None:
    log_run(f"flaky:{DBOS.workflow_id}")
    raise ValueError("always fails")


@DBOS.step()
def emit(n: int) -> None:
    DBOS.write_stream("steplog", f"s{n}")          # written from a step: DBOS stamps it with the step's number
    DBOS.write_stream("steplog", f"t{n}")


@DBOS.step()
def blocking_step() -> str:
    DBOS.write_stream("partial", "a")              # written before DBOS is killed inside this step
    log_run(f"blocking:{DBOS.workflow_id}")
    release = Path(os.environ["IMPORT_RUN_LOG"]).with_name("release")
    while not release.exists():                    # under DBOS it never is: the process is killed here
        time.sleep(0.05)
    DBOS.write_stream("partial", "b")
    return "released"


@DBOS.workflow()
def midstep_wf() -> str:
    add(0, 3)
    return blocking_step()


@DBOS.workflow()
def child_wf(n: int) -> int:
    return add(n, 100)


@DBOS.workflow()
def done_wf(n: int) -> dict[str, int]:
    a = add(n, 1)
    DBOS.set_event("progress", "half")
    c = DBOS.start_workflow(child_wf, a).get_result()
    DBOS.write_stream("numbers", a)
    DBOS.write_stream("numbers", c)
    DBOS.close_stream("numbers")
    DBOS.sleep(0.01)
    DBOS.set_event("progress", "done")
    return {"a": a, "c": c}


@DBOS.workflow()
def fail_wf() -> None:
    add(0, 0)
    raise ImportAppError("boom", 7)


@DBOS.workflow()
def retry_wf() -> None:
    flaky()


@DBOS.workflow(serialization_type=lib.WorkflowSerializationFormat.PORTABLE)
def portable_wf(name: str, count: int = 1) -> dict[str, Any]:
    total = add(count, 1)
    DBOS.set_event("seen", {"name": name})
    return {"name": name, "total": total}


@DBOS.required_roles(["admin"])                    # refused if its recorded identity were not imported
@DBOS.workflow()
def waiting_wf(n: int) -> list[Any]:
    a = add(n, 1)                                  # ran under DBOS
    DBOS.set_event("stage", "waiting")
    DBOS.write_stream("log", "one")
    DBOS.write_stream("log", "two")
    emit(1)
    go = DBOS.recv("go", timeout_seconds=600)      # DBOS is killed while this waits
    extra = DBOS.recv("extra", timeout_seconds=5)  # sent while DBOS ran: a pending message at the import
    b = add(a, 10)                                 # runs under Tether
    DBOS.write_stream("log", "three")
    DBOS.close_stream("log")
    DBOS.set_event("stage", "done")
    return [a, go, extra, b]


@DBOS.workflow()
def gate_wf() -> Any:
    add(0, 2)
    return DBOS.recv("open", timeout_seconds=600)   # holds the queue (concurrency 1) until the import


@DBOS.workflow()
def queued_wf(n: int) -> int:
    return add(n, 1000)                            # still ENQUEUED behind gate_wf when DBOS is killed


@DBOS.workflow()
def tick_wf(when: Any, context: Any) -> Any:
    return context                                 # scheduled once a year: never fires during the test


@DBOS.workflow()
def cancelled_wf() -> None:
    DBOS.recv("never", timeout_seconds=600)


def _wait_for(what: str, check: Any) -> None:
    deadline = time.monotonic() + 60
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _steps(workflow_id: str) -> list[str]:
    return [s["function_name"] for s in DBOS.list_workflow_steps(workflow_id)]


def populate(url: str, ready: Path) -> None:
    DBOS(config={"name": "import-app", "system_database_url": url})
    DBOS.launch()
    queue = DBOS.register_queue("import_q", global_concurrency=1)  # stored in DBOS's queues table
    with lib.SetWorkflowID("done-1"), lib.SetWorkflowAttributes({"team": "blue"}):
        done_wf(1)
    forked = DBOS.fork_workflow("done-1", 3)
    forked.get_result()
    with lib.SetWorkflowID("fail-1"):
        try:
            fail_wf()
        except ImportAppError:
            pass
    with lib.SetWorkflowID("retry-1"):
        try:
            retry_wf()
        except Exception:
            pass
    with lib.SetWorkflowID("portable-1"):
        portable_wf("x", count=2)
    with lib.SetWorkflowID("cancel-1"):
        DBOS.start_workflow(cancelled_wf)
    DBOS.cancel_workflow("cancel-1")
    with lib.SetWorkflowID("gate-1"):
        queue.enqueue(gate_wf)
    _wait_for("gate-1 to wait", lambda: "DBOS.sleep" in _steps("gate-1"))
    with lib.SetWorkflowID("queued-1"), lib.SetEnqueueOptions(deduplication_id="dedup-q", priority=3):
        queue.enqueue(queued_wf, 5)
    with lib.SetWorkflowID("delayed-1"), lib.SetEnqueueOptions(delay_seconds=1):
        queue.enqueue(queued_wf, 7)                # DELAYED, then ENQUEUED behind gate-1
    DBOS.create_schedule(schedule_name="yearly", workflow_fn=tick_wf, schedule="0 3 1 1 *",
                         context={"region": "eu"})
    with lib.SetWorkflowID("wait-1"), lib.SetWorkflowTimeout(3600), lib.DBOSContextSetAuth("ops", ["admin"]):
        DBOS.start_workflow(waiting_wf, 1)
    _wait_for("wait-1 to wait", lambda: "DBOS.sleep" in _steps("wait-1"))
    with lib.SetWorkflowID("midstep-1"):
        DBOS.start_workflow(midstep_wf)
    _wait_for("midstep-1 to block in its step", lambda: "blocking:midstep-1" in runs())
    DBOS.send("wait-1", "payload", topic="extra")
    DBOS.send("done-1", "leftover", topic="late")
    ready.write_text(forked.workflow_id)
    while True:  # the test SIGKILLs this process
        time.sleep(1)


if __name__ == "__main__":
    populate(sys.argv[1], Path(sys.argv[2]))
