"""Crash tests: a real process is SIGKILLed mid-workflow and a new process on the same database resumes it.

Side effects are counted in files outside the database, so "completed steps did not run again" is proved,
not assumed. Runs on both backends.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tether import DBOS

WORKER = Path(__file__).with_name("worker.py")


_spawned: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_worker_outlives_its_test() -> Iterator[None]:
    """A worker still running when its test ends (a failure, a ``communicate`` timeout) is killed: left alone it
    would hold its database connections (pool and listener) for as long as it waits, across later tests."""
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _spawn(scenario: str, phase: str, db_url: str, executor: str, workdir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(WORKER), scenario, phase, db_url, executor, str(workdir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _spawned.append(proc)
    return proc


def _wait_for_marker(workdir: Path, marker: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    path = workdir / "markers"
    while time.monotonic() < deadline:
        if path.exists() and any(line.startswith(marker) for line in path.read_text().splitlines()):
            return
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.02)
    raise AssertionError(f"marker {marker!r} not reached")


def _crash_and_recover(scenario: str, marker: str, db_url: str, workdir: Path,
                       then: Callable[[str, str], None] | None = None) -> dict[str, object]:
    executor = f"crash-{uuid.uuid4().hex[:10]}"
    first = _spawn(scenario, "start", db_url, executor, workdir)
    try:
        _wait_for_marker(workdir, marker, first)
        if then is not None:
            then(db_url, executor)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    second = _spawn(scenario, "recover", db_url, executor, workdir)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def _steps(workdir: Path) -> list[str]:
    return (workdir / "steps").read_text().split()


def test_killed_between_steps_resumes_without_rerunning_them(db_url: str, tmp_path: Path) -> None:
    DBOS.destroy()
    out = _crash_and_recover("steps", "after-two", db_url, tmp_path)
    assert out["result"] == 10
    assert _steps(tmp_path) == ["one", "two", "three", "four"]


def test_killed_after_set_events_replays_them_without_new_versions(db_url: str, tmp_path: Path) -> None:
    """Recovery replays the recorded set_events (from the workflow and from a completed step): no version is
    added by the replay, and the next set_event is the next version."""
    DBOS.destroy()
    out = _crash_and_recover("events", "after-versions", db_url, tmp_path)
    assert out["result"] == "done"
    assert out["versions"] == [[1, 1], [2, 2], [3, 3], [4, 4]]


def _sleep_recorded(db_url: str, executor: str) -> None:
    """Wait until the workflow's durable sleep is checkpointed (the marker is written just before it)."""
    from tether import DBOSClient

    with DBOSClient(db_url) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            steps = client.list_workflow_steps(f"crash-sleep-{executor}")
            if any(s["function_name"] == "DBOS.sleep" for s in steps):
                return
            time.sleep(0.02)
    raise AssertionError("the durable sleep was never recorded")


def test_killed_during_durable_sleep_sleeps_only_the_rest(db_url: str, tmp_path: Path) -> None:
    DBOS.destroy()
    out = _crash_and_recover("sleep", "sleep-start", db_url, tmp_path, then=_sleep_recorded)
    sleep_started = float(next(line.split()[1] for line in (tmp_path / "markers").read_text().splitlines()
                               if line.startswith("sleep-start")))
    finished = float(out["result"])  # type: ignore[arg-type]
    assert finished - sleep_started >= 3.0 - 0.05  # the whole sleep was honoured...
    launched = float(out["launched_at"])  # type: ignore[arg-type]
    assert finished - launched < 3.0  # ...but the recovered process slept only what remained
    assert _steps(tmp_path) == ["before", "after"]


def test_killed_after_recv_keeps_message_and_stream_exactly_once(db_url: str, tmp_path: Path) -> None:
    DBOS.destroy()
    executor = f"crash-{uuid.uuid4().hex[:10]}"
    wfid = f"crash-recv-{executor}"
    first = _spawn("recv", "start", db_url, executor, tmp_path)
    try:
        _wait_for_marker(tmp_path, "started", first)
        from tether import DBOSClient

        with DBOSClient(db_url) as client:  # another process's view: a client sends both messages
            client.send(wfid, "m1", "t")
            client.send(wfid, "m2", "t")
        _wait_for_marker(tmp_path, "after-recv", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    second = _spawn("recv", "recover", db_url, executor, tmp_path)
    out_text, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    out = json.loads(out_text.strip().splitlines()[-1])
    assert out["result"] == {"first": "m1", "second": "m2"}
    assert out["stream"] == [0, 1, 2, 3, 4]
    assert _steps(tmp_path) == ["after-recv"]


def test_killed_after_select_recovers_the_same_winner_and_keeps_the_losers(db_url: str, tmp_path: Path) -> None:
    """Messages wait on topics b and c; select([a, b, c]) takes b1. The process is killed after the select is
    checkpointed, and a message then arrives on a, which would win a fresh select. The recovered workflow
    gets b1 again without taking anything, and every other message is still queued, once."""
    DBOS.destroy()
    from tether import DBOSClient

    executor = f"crash-{uuid.uuid4().hex[:10]}"
    wfid = f"crash-select-{executor}"
    first = _spawn("select", "start", db_url, executor, tmp_path)
    try:
        _wait_for_marker(tmp_path, "started", first)
        with DBOSClient(db_url) as client:
            for value, topic in [("b1", "b"), ("c1", "c"), ("c2", "c"), ("open", "gate")]:
                client.send(wfid, value, topic)
            _wait_for_marker(tmp_path, "after-select", first)
            client.send(wfid, "a1", "a")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    second = _spawn("select", "recover", db_url, executor, tmp_path)
    out_text, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    out = json.loads(out_text.strip().splitlines()[-1])
    assert out["result"] == {"index": 1, "value": "b1",
                             "rest": {"a": ["a1", None], "b": [None, None], "c": ["c1", "c2"]}}
    assert (tmp_path / "selected").read_text().split() == ["1", "b1", "1", "b1"]  # both executions agree


def _select_waiting(db_url: str, executor: str) -> None:
    """Wait until the select's deadline is checkpointed: it found nothing and waits."""
    from tether import DBOSClient

    with DBOSClient(db_url) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(s["function_name"] == "DBOS.sleep"
                   for s in client.list_workflow_steps(f"crash-select-wait-{executor}")):
                return
            time.sleep(0.02)
    raise AssertionError("the select never started waiting")


def test_killed_while_selecting_takes_what_arrived_meanwhile(db_url: str, tmp_path: Path) -> None:
    DBOS.destroy()
    from tether import DBOSClient

    executor = f"crash-{uuid.uuid4().hex[:10]}"
    first = _spawn("select-wait", "start", db_url, executor, tmp_path)
    try:
        _wait_for_marker(tmp_path, "started", first)
        _select_waiting(db_url, executor)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    with DBOSClient(db_url) as client:  # sent while no process runs the workflow
        client.send(f"crash-select-wait-{executor}", "late", "b")
    second = _spawn("select-wait", "recover", db_url, executor, tmp_path)
    out_text, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert json.loads(out_text.strip().splitlines()[-1])["result"] == [1, "late", None]


@pytest.fixture(autouse=True)
def _no_app() -> None:
    DBOS.destroy()


@pytest.mark.parametrize("scenario", ["stepstream", "stepstream_async"])
def test_killed_mid_step_after_writes_leaves_each_stream_value_once(scenario: str, db_url: str,
                                                                    tmp_path: Path) -> None:
    """A step fails after three stream writes and is retried; its retry is SIGKILLed after three writes; the
    recovered process runs the step again (it fails after three writes once more, then finishes). Each value
    is stored once, and a reader in another process following the stream live across the crash sees each
    value once (issue #16 item 3)."""
    import threading

    from tether import DBOSClient

    DBOS.destroy()
    executor = f"crash-{uuid.uuid4().hex[:10]}"
    wfid = f"crash-{scenario}-{executor}"
    live: list[object] = []
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            with DBOSClient(db_url) as client:
                live.extend(client.read_stream(wfid, "out"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    reader = threading.Thread(target=follow, daemon=True)
    first = _spawn(scenario, "start", db_url, executor, tmp_path)
    try:
        _wait_for_marker(tmp_path, "started", first)
        reader.start()
        _wait_for_marker(tmp_path, "mid-step", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    assert _steps(tmp_path) == ["streaming", "streaming"]  # the first attempt failed, the second was killed
    second = _spawn(scenario, "recover", db_url, executor, tmp_path)
    out_text, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    out = json.loads(out_text.strip().splitlines()[-1])
    expected = ["begin", 0, 1, 2, 3, 4, "end"]
    assert out["result"] == 5
    assert out["stream"] == expected
    assert _steps(tmp_path) == ["streaming"] * 4  # two attempts in each process
    reader.join(timeout=60)
    assert not errors, errors
    assert live == expected
    with DBOSClient(db_url) as client:
        assert [(s.key, s.values, s.closed) for s in client.list_streams(wfid)] == [("out", 7, True)]


def test_killed_with_group_commits_in_flight_resumes_from_durable_checkpoints(db_url: str, tmp_path: Path) -> None:
    """Forty async workflows checkpoint at once (their checkpoints share transactions), and the process is
    killed at an arbitrary moment, batches in flight. No workflow had gone past a step whose checkpoint was
    not committed; the recovered process runs no step whose checkpoint was committed; every workflow ends
    with each step recorded once, with its one value."""
    from tether import DBOSClient

    DBOS.destroy()
    workflows, steps = 40, 25
    executor = f"crash-{uuid.uuid4().hex[:10]}"
    ids = [f"crash-group-{executor}-{n}" for n in range(workflows)]
    first = _spawn("group", "start", db_url, executor, tmp_path)
    ran = tmp_path / "group"
    try:
        deadline = time.monotonic() + 60
        while not (ran.exists() and len(ran.read_text().splitlines()) >= workflows * steps // 3):
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the workflows never got a third of the way"
            time.sleep(0.01)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    with DBOSClient(db_url) as client:
        durable = {(n, s["function_id"]) for n, wfid in enumerate(ids) for s in client.list_workflow_steps(wfid)}
    before = [tuple(map(int, line.split()[1:])) for line in ran.read_text().splitlines()]
    assert len(durable) < workflows * steps  # killed mid-way (else the test proves nothing)
    # Durable before continuing: a step ran in the killed process only after the previous one's checkpoint
    # (function_id = step index + 1) had committed.
    assert all((n, i) in durable for n, i in before if i > 0)

    second = _spawn("group", "recover", db_url, executor, tmp_path)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["result"] == [
        sum(n * 1000 + i for i in range(steps)) for n in range(workflows)]
    runs = Counter(tuple(map(int, line.split()[1:])) for line in ran.read_text().splitlines())
    assert all(runs[(n, fid - 1)] == 1 for n, fid in durable)  # a committed step never ran again
    assert set(runs) == {(n, i) for n in range(workflows) for i in range(steps)}
    assert max(runs.values()) <= 2  # at most the one step each workflow was in when killed ran twice
    with DBOSClient(db_url) as client:
        for n, wfid in enumerate(ids):
            recorded = [(s["function_id"], s["output"]) for s in client.list_workflow_steps(wfid)]
            assert recorded == [(i + 1, n * 1000 + i) for i in range(steps)]
