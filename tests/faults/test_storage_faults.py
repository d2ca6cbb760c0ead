"""Storage faults: a SQLite write lock held by another process past the busy timeout, a full disk, a read-only
database. Workflows ride out the first two (none ERROR, every step once); the third fails at launch, saying
why, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import make_config
from tests.faults.conftest import Records, SmallDisk, unavailable
from tether import DBOS, DBOSClient, StorageError, WorkflowHandle
from tether.config import parse_database_url
from tether.errors import DatabaseUnavailableError
from tether.storage import open_store

STEPS = 20
WAIT = 60.0

_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


class Steppers:
    """Workflows that take a checkpoint every few milliseconds, counting each step's runs outside the
    database, followed by a DBOSClient waiter each."""

    def __init__(self, url: str, count: int = 3) -> None:
        tag = uuid.uuid4().hex[:8]
        self.runs: Counter[tuple[int, int]] = Counter()
        lock = threading.Lock()
        self.count = count

        # Halfway through, every stepper waits until the fault is in place, so that the second half of their
        # checkpoints meets it however slowly this machine started the fault.
        self.fault_in_place = threading.Event()

        @DBOS.step(name=f"step-{tag}")
        def step(n: int, i: int) -> int:
            with lock:
                self.runs[(n, i)] += 1
            if i == STEPS // 2:
                self.fault_in_place.wait(WAIT)
            time.sleep(0.02)
            return i

        @DBOS.workflow(name=f"stepper-{tag}")
        def stepper(n: int) -> int:
            return sum(step(n, i) for i in range(STEPS))

        self.handles: list[WorkflowHandle[Any]] = [DBOS.start_workflow(stepper, n) for n in range(count)]
        self.client = DBOSClient(url)
        self.from_client: dict[str, Any] = {}
        self.followers = [threading.Thread(target=self._follow, args=(h.workflow_id,)) for h in self.handles]
        for t in self.followers:
            t.start()

    def _follow(self, wfid: str) -> None:
        self.from_client[wfid] = self.client.retrieve_workflow(wfid).get_result()

    def stepped(self) -> int:
        return sum(self.runs.values())

    def check_all_finished(self) -> None:
        for h in self.handles:
            assert h.get_result() == sum(range(STEPS))
        for t in self.followers:
            t.join(WAIT)
        assert self.from_client == {h.workflow_id: sum(range(STEPS)) for h in self.handles}
        assert {h.get_status().status for h in self.handles} == {"SUCCESS"}
        assert set(self.runs.values()) == {1} and len(self.runs) == self.count * STEPS

    def close(self) -> None:
        self.client.destroy()


@contextlib.contextmanager
def launched(url: str, **extra: Any) -> Iterator[None]:
    DBOS(config=make_config(url, **extra))
    DBOS.launch()
    try:
        yield
    finally:
        DBOS.destroy()


def test_write_lock_held_past_the_busy_timeout(tmp_path: Path, tether_log: Records) -> None:
    path = tmp_path / "locked.sqlite"
    url = f"sqlite:///{path}"
    with launched(url, sqlite_busy_timeout_sec=0.2):
        steppers = Steppers(url)
        try:
            _until(lambda: steppers.stepped() >= 3, "the steppers to start")
            # Another process takes the write lock and keeps it ten busy timeouts long.
            holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path), "2.0"], stdout=subprocess.PIPE,
                                      text=True)
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            steppers.fault_in_place.set()
            assert holder.wait(WAIT) == 0
            steppers.check_all_finished()
        finally:
            steppers.close()
    assert any("Database unavailable" in m and "locked" in m for m in tether_log.messages)  # the fault was met


def test_full_disk(small_disk: SmallDisk, tether_log: Records) -> None:
    url = f"sqlite:///{small_disk.path / 'full.sqlite'}"
    with launched(url):
        steppers = Steppers(url)
        try:
            _until(lambda: steppers.stepped() >= 3, "the steppers to start")
            small_disk.fill()
            steppers.fault_in_place.set()
            time.sleep(1.0)  # a second of full disk: checkpoints fail and are retried
            small_disk.free()
            steppers.check_all_finished()
        finally:
            steppers.close()
    assert any("Database unavailable" in m and "full" in m for m in tether_log.messages)  # the fault was met


def test_full_disk_error_names_its_cause(small_disk: SmallDisk) -> None:
    """SQLite rolls a transaction back by itself when the disk fills up; the error raised must still say the
    disk is full (not that there was no transaction left to roll back)."""
    store = open_store(parse_database_url(f"sqlite:///{small_disk.path / 'cause.sqlite'}"))
    try:
        from tether.storage.base import WorkflowRow

        store.insert_workflow(WorkflowRow(workflow_uuid="dest", status="PENDING", name="wf"))
        small_disk.fill()
        with pytest.raises(DatabaseUnavailableError, match="full"):
            for i in range(1000):  # the first writes may still fit in pages the database already has
                store.send_message("dest", "topic", os.urandom(4096), i)
    finally:
        small_disk.free()
        store.close()


def test_launch_on_a_read_only_database_fails_at_launch(tmp_path: Path) -> None:
    path = tmp_path / "readonly.sqlite"
    url = f"sqlite:///{path}"
    with launched(url):
        pass
    with read_only(path):
        DBOS(config=make_config(url))
        try:
            with pytest.raises(StorageError, match="read-only"):
                DBOS.launch()
        finally:
            DBOS.destroy()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file read-only for this process. Root ignores permission bits, so as root the file is made
    immutable instead (``chattr +i``)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot make a file immutable here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_launch_on_a_read_only_postgres_database_fails_at_launch(pg_database: str) -> None:
    from tests.conftest import PG_ADMIN_URL, temporary_pg_database

    with temporary_pg_database("tether_readonly") as url:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" SET default_transaction_read_only = on')
        DBOS(config=make_config(url))
        try:
            with pytest.raises(StorageError, match="read-only"):
                DBOS.launch()
        finally:
            DBOS.destroy()
