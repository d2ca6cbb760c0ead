"""recovery: time for a freshly launched process to finish ``n`` workflows a killed process left PENDING.

1. A child process (``python -m bench.worker --scenario recovery --url ... phase=crash``) launches DBOS and
   starts ``n`` workflows. Each runs one step, then ``DBOS.sleep``s until a common wall-clock
   ``wake_at``. When every workflow has finished its step, the child says so by creating
   ``ready_file``, and the bench SIGKILLs it.
2. The bench waits until ``wake_at`` has passed, so every sleep is over whether its wake-up time was
   recorded before the kill or is computed again on replay, then times ``DBOS.launch()`` (which
   recovers the PENDING workflows of executor "local") and the time until all ``n`` workflows are
   SUCCESS: ``DBOS.get_workflow_status`` on each workflow in turn, re-polling the first unfinished
   one every ``poll_s`` (about one query per completion, so polling barely competes with recovery).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import DBOS, Metric, SetWorkflowID, configure, wait_until

PREFIX = "recovery-"
_steps_done: list[int] = []


@DBOS.step()
def first_step(i: int) -> int:
    return i


@DBOS.workflow()
def sleeper(i: int, wake_at: float) -> int:
    first_step(i)
    _steps_done.append(i)
    DBOS.sleep(max(0.0, wake_at - time.time()))
    return i


def crash_phase(url: str, n: int, wake_at: float, ready_file: str) -> None:
    """Run in the child: start the workflows, signal readiness, then wait to be killed."""
    configure(url)
    DBOS.launch()
    ids = [f"{PREFIX}{i:05d}" for i in range(n)]
    for i, wfid in enumerate(ids):
        with SetWorkflowID(wfid):
            DBOS.start_workflow(sleeper, i, wake_at)
    if not wait_until(lambda: len(_steps_done) == n, timeout=wake_at - time.time()):
        raise TimeoutError("workflows did not finish their step before wake_at")
    statuses = {getattr(DBOS.get_workflow_status(w), "status", None) for w in ids}
    if statuses != {"PENDING"}:
        raise AssertionError(f"expected every workflow PENDING before the kill, saw {statuses}")
    Path(ready_file).touch()
    time.sleep(max(0.0, wake_at - time.time()) + 30)  # the bench SIGKILLs us long before; never linger
    os._exit(1)


def wait_all_success(ids: list[str], timeout: float, poll_s: float) -> int:
    """Wait until every workflow in ``ids`` is SUCCESS; return how many are (== len(ids) unless timed out)."""
    deadline = time.monotonic() + timeout
    for done, wfid in enumerate(ids):
        while True:
            status = DBOS.get_workflow_status(wfid)
            if status is not None and status.status == "SUCCESS":
                break
            if time.monotonic() > deadline:
                return done
            time.sleep(poll_s)
    return len(ids)


def _crash(url: str, n: int, wake_at: float) -> float:
    """Run the crash phase in a child process, SIGKILL it once ready; return seconds until it was ready."""
    started = time.time()
    backend = "sqlite" if url.startswith("sqlite") else "postgres"
    with tempfile.TemporaryDirectory(prefix="bench_recovery_") as tmp:
        ready, log_path, result_path = (os.path.join(tmp, f) for f in ("ready", "child.log", "result.json"))
        params = {"n": n, "phase": "crash", "wake_at": wake_at, "ready_file": ready}
        cmd = [sys.executable, "-m", "bench.worker", "--scenario", "recovery", "--backend", backend,
               "--url", url, "--params", json.dumps(params), "--result", result_path]
        with open(log_path, "w") as log:
            child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: os.path.exists(ready) or child.poll() is not None,
                       timeout=max(0.0, wake_at - time.time() - 0.5))
            if not os.path.exists(ready):
                result = Path(result_path)
                error = json.loads(result.read_text()).get("error") if result.exists() else None
                tail = error or Path(log_path).read_text()[-3000:]
                raise RuntimeError(f"crash phase not ready before wake_at (exit {child.poll()}):\n{tail}")
            return time.time() - started
        finally:
            child.kill()  # SIGKILL: no shutdown hooks run
            child.wait()


def run(url: str, n: int = 200, lead_s: float = 15.0, poll_s: float = 0.02, timeout_s: float = 120.0,
        phase: str = "measure", wake_at: float = 0.0, ready_file: str = "") -> list[Metric]:
    if phase == "crash":
        crash_phase(url, n, wake_at, ready_file)
        return []

    wake_at = time.time() + lead_s
    ready_after_s = _crash(url, n, wake_at)
    time.sleep(max(0.0, wake_at - time.time()) + 0.1)  # every durable sleep is now over

    t0 = time.perf_counter()
    configure(url)
    DBOS.launch()
    launch_s = time.perf_counter() - t0
    try:
        done = wait_all_success([f"{PREFIX}{i:05d}" for i in range(n)], timeout_s, poll_s)
        if done < n:
            raise TimeoutError(f"only {done} of {n} workflows recovered in {timeout_s}s")
        all_done_s = time.perf_counter() - t0
    finally:
        DBOS.destroy()
    return [
        Metric(f"launch() n={n}", launch_s, "s", "lower"),
        Metric(f"all SUCCESS after launch n={n}", all_done_s, "s", "lower",
               {"crash_phase_ready_after_s": ready_after_s}),
        Metric(f"recovered wf/s n={n}", n / all_done_s, "wf/s", "higher"),
    ]
