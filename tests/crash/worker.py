"""A process the crash tests run and SIGKILL: ``python worker.py SCENARIO PHASE DB_URL EXECUTOR_ID WORKDIR``.

Phase ``start`` launches DBOS and starts the scenario's workflow under a fixed ID, then waits (the test kills
it at a marker). Phase ``recover`` launches DBOS on the same database and executor (which resumes the
workflow) and prints its result as JSON. Side effects are appended to files in WORKDIR, outside the
database, so the test can count what ran.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from tether import DBOS, SetWorkflowID, on_message

scenario, phase, db_url, executor_id, workdir = sys.argv[1:6]
WORK = Path(workdir)
PAUSE = phase == "start"


def note(name: str, text: str) -> None:
    with open(WORK / name, "a") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())


def pause_here(marker: str) -> None:
    """On the first run, say where we are and wait to be killed."""
    if PAUSE:
        note("markers", marker)
        time.sleep(120)


@DBOS.step()
def counted(name: str, value: int) -> int:
    note("steps", name)
    return value


@DBOS.workflow()
def multi_step() -> int:
    a = counted("one", 1)
    b = counted("two", 2)
    pause_here("after-two")
    c = counted("three", 3)
    d = counted("four", 4)
    return a + b + c + d


@DBOS.workflow()
def sleeper(seconds: float) -> float:
    counted("before", 0)
    note("markers", f"sleep-start {time.time()}")
    DBOS.sleep(seconds)
    counted("after", 0)
    return time.time()


@DBOS.workflow()
def receiver() -> dict[str, object]:
    for i in range(3):
        DBOS.write_stream("out", i)
    first = DBOS.recv("t", timeout_seconds=30)
    pause_here("after-recv")
    counted("after-recv", 0)
    for i in range(3, 5):
        DBOS.write_stream("out", i)
    second = DBOS.recv("t", timeout_seconds=30)
    DBOS.close_stream("out")
    return {"first": first, "second": second}


@DBOS.workflow()
def selector() -> dict[str, object]:
    """Selects once messages are queued on several topics, then (after the kill point) drains every topic."""
    DBOS.recv("gate", timeout_seconds=60)
    got = DBOS.select([on_message("a"), on_message("b"), on_message("c")], timeout_seconds=60)
    assert got is not None
    note("selected", f"{got.index} {got.value}")
    pause_here("after-select")
    rest = {t: [DBOS.recv(t, timeout_seconds=0) for _ in range(2)] for t in ("a", "b", "c")}
    return {"index": got.index, "value": got.value, "rest": rest}


@DBOS.workflow()
def select_waiting() -> list[object]:
    """Waits in select with nothing queued (the test kills it there and sends while it is down)."""
    got = DBOS.select([on_message("a"), on_message("b")], timeout_seconds=60)
    assert got is not None
    return [got.index, got.value, DBOS.recv("a", timeout_seconds=0)]



def _step_attempt(name: str) -> int:
    """Count the attempts of a step, across processes (in a file, outside the database)."""
    note("steps", name)
    return sum(1 for line in (WORK / "steps").read_text().split() if line == name)


@DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=3)
def streaming_step() -> int:
    """Writes 0..4. Its first attempt in each process fails after three writes; the second one of the first
    process is killed after three writes; the recovered process's second attempt finishes."""
    ran = _step_attempt("streaming")
    for i in range(5):
        DBOS.write_stream("out", i)
        if i == 2 and ran in (1, 3):
            raise RuntimeError("fails after three writes")
        if i == 2:
            pause_here("mid-step")
    return 5


@DBOS.step(retries_allowed=True, interval_seconds=0, max_attempts=3)
async def streaming_step_async() -> int:
    ran = _step_attempt("streaming")
    for i in range(5):
        await DBOS.write_stream_async("out", i)
        if i == 2 and ran in (1, 3):
            raise RuntimeError("fails after three writes")
        if i == 2 and PAUSE:
            note("markers", "mid-step")
            await asyncio.sleep(120)
    return 5


@DBOS.workflow()
def step_streamer() -> int:
    DBOS.write_stream("out", "begin")
    n = streaming_step()
    DBOS.write_stream("out", "end")
    DBOS.close_stream("out")
    return n


@DBOS.workflow()
async def step_streamer_async() -> int:
    await DBOS.write_stream_async("out", "begin")
    n = await streaming_step_async()
    await DBOS.write_stream_async("out", "end")
    await DBOS.close_stream_async("out")
    return n


@DBOS.step()
def set_from_step(value: int) -> None:
    DBOS.set_event("p", value)


@DBOS.workflow()
def versioned_events() -> str:
    """Sets versions 1-3 of "p" (the third from a step), is killed, and after recovery sets the fourth."""
    DBOS.set_event("p", 1)
    DBOS.set_event("p", 2)
    set_from_step(3)
    pause_here("after-versions")
    DBOS.set_event("p", 4)
    return "done"


GROUP_WORKFLOWS = 40
GROUP_STEPS = 25


@DBOS.step()
async def group_step(n: int, i: int) -> int:
    note("group", f"{phase} {n} {i}")
    return n * 1000 + i


@DBOS.workflow()
async def group_workflow(n: int) -> int:
    """One of many async workflows checkpointing at once (group commit); killed at an arbitrary moment."""
    total = 0
    for i in range(GROUP_STEPS):
        total += await group_step(n, i)
    return total


def group_main() -> None:
    ids = [f"crash-group-{executor_id}-{n}" for n in range(GROUP_WORKFLOWS)]
    if phase == "start":
        for n, wfid in enumerate(ids):
            with SetWorkflowID(wfid):
                DBOS.start_workflow(group_workflow, n)
        note("markers", "started")
        time.sleep(120)
        return
    print(json.dumps({"result": [DBOS.retrieve_workflow(wfid).get_result() for wfid in ids]}))


WORKFLOWS = {"events": (versioned_events, ()), "steps": (multi_step, ()), "sleep": (sleeper, (3.0,)),
             "recv": (receiver, ()),
             "select": (selector, ()), "select-wait": (select_waiting, ()),
             "stepstream": (step_streamer, ()), "stepstream_async": (step_streamer_async, ())}


def main() -> None:
    DBOS(config={"name": "crash", "system_database_url": db_url, "executor_id": executor_id,
                 "application_version": "crash-v1", "sqlite_poll_interval_sec": 0.02})
    started = time.time()
    DBOS.launch()
    if scenario == "group":
        group_main()
        DBOS.destroy()
        return
    wfid = f"crash-{scenario}-{executor_id}"
    func, args = WORKFLOWS[scenario]
    if phase == "start":
        with SetWorkflowID(wfid):
            DBOS.start_workflow(func, *args)
        note("markers", "started")
        time.sleep(120)
    else:
        result = DBOS.retrieve_workflow(wfid).get_result()
        extra = {}
        if scenario in ("recv", "stepstream", "stepstream_async"):
            extra["stream"] = list(DBOS.read_stream(wfid, "out"))
        if scenario == "events":
            extra["versions"] = [[c.version, c.value] for c in DBOS.watch_event(wfid, "p")]
        print(json.dumps({"result": result, "launched_at": started, "finished_at": time.time(), **extra}))
    DBOS.destroy()


if __name__ == "__main__":
    main()
