"""An executor ID chosen in the config and held by a live process on another machine: launch gives that
process its heartbeat timeout to lapse, then refuses if it is still renewing, or takes its work back if not.
The other machine is a process row registered through the store, as a process elsewhere would register it."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from tests.conftest import make_config
from tether import DBOS, ConfigError
from tether.config import parse_database_url
from tether.storage import open_store
from tether.storage.records import ProcessRow

FAST = {"heartbeat_interval_sec": 0.1, "heartbeat_timeout_sec": 0.5}


def _elsewhere(store: object, executor_id: str) -> ProcessRow:
    now = int(time.time() * 1000)
    row = ProcessRow(process_id=uuid.uuid4().hex, executor_id=executor_id, app_name="tether-test",
                     application_version="test", hostname="other-host", pid=os.getpid(), machine="other-machine",
                     pid_started=None, started_at=now, heartbeat_at=now, timeout_ms=500)
    store.register_process(row)  # type: ignore[attr-defined]
    return row


def test_a_holder_elsewhere_that_keeps_renewing_is_refused(db_url: str) -> None:
    executor = f"held-{uuid.uuid4().hex[:8]}"
    store = open_store(parse_database_url(db_url))
    row = _elsewhere(store, executor)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(0.05):
            store.heartbeat(row.process_id, int(time.time() * 1000))

    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        DBOS(config=make_config(db_url, executor_id=executor, **FAST))
        with pytest.raises(ConfigError, match=r"already used by a live process .*on other-host"):
            DBOS.launch()
        assert [p.executor_id for p in store.list_processes() if p.executor_id == executor
                and p.stopped_at is None] == [executor]  # only the holder's row is left
    finally:
        stop.set()
        renewer.join()
        DBOS.destroy()
        store.close()


def test_a_holder_elsewhere_whose_heartbeat_lapses_is_taken_over(db_url: str) -> None:
    executor = f"lapse-{uuid.uuid4().hex[:8]}"
    store = open_store(parse_database_url(db_url))
    row = _elsewhere(store, executor)  # never renewed: it lapses after 0.5 s
    try:
        DBOS(config=make_config(db_url, executor_id=executor, **FAST))
        DBOS.launch()
        assert DBOS.executor_id == executor
        assert row.process_id not in {p.process_id for p in store.list_processes()}  # adopted and removed
    finally:
        DBOS.destroy()
        store.close()
