"""Three worker processes (real subprocesses, each with its own executor ID) serve one database on which a
schedule fires every second, on PostgreSQL and on SQLite. Every process's timer fires every tick; each run
records its tick in a file outside the database. Each tick must run exactly once, and no tick between the
first and the last may be missing."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from tether import DBOSClient

WORKER = Path(__file__).with_name("schedule_worker.py")
TICKS = 5  # distinct ticks to observe
WAIT = 60.0


def _ticks(runs_file: Path) -> set[str]:
    return {line.split()[0] for line in runs_file.read_text().splitlines() if line.strip()}


def _executors(runs_file: Path) -> set[str]:
    return {line.split()[1] for line in runs_file.read_text().splitlines() if line.strip()}


def test_three_processes_start_one_workflow_per_tick(db_url: str, tmp_path: Path) -> None:
    runs_file = tmp_path / "runs.txt"
    runs_file.touch()
    name = f"mp-{uuid.uuid4().hex[:8]}"
    workers = [subprocess.Popen([sys.executable, str(WORKER), db_url, f"mp-sched-{i}", str(runs_file)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for i in range(3)]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        with DBOSClient(db_url) as client:
            client.create_schedule(schedule_name=name, workflow_name="mp_tick", schedule="* * * * * *")
            deadline = time.monotonic() + WAIT
            # Which process wins a tick is up to the OS: one can win several in a row, so watch until two
            # processes have each run one (or the deadline), however many ticks that takes.
            while ((len(_ticks(runs_file)) < TICKS or len(_executors(runs_file)) < 2)
                   and time.monotonic() < deadline):
                time.sleep(0.1)
            client.delete_schedule(name)
            runs = client.list_workflows(schedule_name=name, load_input=False, load_output=False)
            for run in runs:
                client.retrieve_workflow(run.workflow_id).get_result(timeout_seconds=WAIT)
            runs = client.list_workflows(schedule_name=name, load_input=False, load_output=False)
    finally:
        for w in workers:
            if w.stdin is not None:
                w.stdin.close()
        for w in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
    lines = [line.split() for line in runs_file.read_text().splitlines()]
    ticks = Counter(tick for tick, _, _ in lines)
    assert len(ticks) >= TICKS
    assert set(ticks.values()) == {1}, f"a tick ran more than once: {ticks.most_common(3)}"
    assert {wfid for _, _, wfid in lines} == {r.workflow_id for r in runs}
    assert all(r.status == "SUCCESS" for r in runs)
    times = sorted(datetime.fromisoformat(t) for t in ticks)
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times)), "a tick was missed"
    assert len({executor for _, executor, _ in lines}) >= 2, "the runs were not shared"
