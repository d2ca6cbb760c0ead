"""Workflows on methods: the registered instance (or class) is found by its names, never stored, and
recovery and queues run the workflow on that live instance (both backends)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSConfiguredInstance, Queue, SetWorkflowID
from tether.error import DBOSConflictingWorkflowError

release = threading.Event()
entered = threading.Event()


@DBOS.dbos_class()
class Account(DBOSConfiguredInstance):
    """Holds a lock, so it cannot be pickled: only its names may be stored."""

    def __init__(self, name: str, balance: int) -> None:
        super().__init__(name)
        self.lock = threading.Lock()
        self.balance = balance
        self.runs: list[str] = []

    @DBOS.workflow()
    def withdraw(self, amount: int) -> int:
        with self.lock:
            self.runs.append(DBOS.workflow_id or "")
        self.hold()
        return self.balance - amount

    @DBOS.step()
    def hold(self) -> None:
        if self.config_name == "blocking":
            entered.set()
            release.wait(30)

    @classmethod
    @DBOS.workflow()
    def bank_name(cls, suffix: str) -> str:
        return cls.__name__ + suffix

    @staticmethod
    @DBOS.workflow()
    def add(a: int, b: int) -> int:
        return a + b


@DBOS.dbos_class("renamed-ledger")
class Ledger(DBOSConfiguredInstance):
    @DBOS.workflow()
    def total(self, x: int) -> int:
        return x * 2


class Forgotten(DBOSConfiguredInstance):
    @DBOS.workflow()
    def work(self) -> str:
        return "should not run"

    @classmethod
    @DBOS.workflow()
    def class_work(cls) -> str:
        return "should not run"


@pytest.fixture(autouse=True)
def _reset() -> Any:
    release.clear()
    entered.clear()
    yield
    release.set()
    DBOS.destroy()


def test_instance_workflow_records_names_not_the_instance(db_url: str) -> None:
    DBOS(config=make_config(db_url))
    DBOS.launch()
    acct = Account("alice", 100)
    wfid = f"inst-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        assert acct.withdraw(30) == 70
    status = DBOS.get_workflow_status(wfid)
    assert status is not None
    assert status.class_name == "Account" and status.config_name == "alice"
    assert status.input == {"args": (30,), "kwargs": {}}
    handle = DBOS.start_workflow(acct.withdraw, 10)
    assert handle.get_result() == 90 and acct.runs[-1] == handle.workflow_id

    assert Account.bank_name("!") == "Account!"
    handle = DBOS.start_workflow(Account.bank_name, "?")
    assert handle.get_result() == "Account?"
    st = handle.get_status()
    assert st.class_name == "Account" and st.config_name is None
    handle = DBOS.start_workflow(Account.add, 1, 2)
    assert handle.get_result() == 3
    assert handle.get_status().class_name is None

    ledger = Ledger("main")
    handle = DBOS.start_workflow(ledger.total, 4)
    assert handle.get_result() == 8 and handle.get_status().class_name == "renamed-ledger"


def test_unregistered_class_is_refused_before_anything_is_written(db_url: str) -> None:
    DBOS(config=make_config(db_url))
    DBOS.launch()
    wfid = f"forgot-{uuid.uuid4()}"
    with pytest.raises(TypeError, match="class instance, but is not properly registered"), SetWorkflowID(wfid):
        Forgotten("x").work()
    assert DBOS.get_workflow_status(wfid) is None
    with pytest.raises(TypeError, match="appears to be a class, but is not properly registered"):
        Forgotten.class_work()


def test_same_id_on_another_instance_is_a_conflict(db_url: str) -> None:
    DBOS(config=make_config(db_url))
    DBOS.launch()
    a, b = Account("a", 1), Account("b", 1)
    wfid = f"conflict-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        a.withdraw(1)
    with pytest.raises(DBOSConflictingWorkflowError, match="different config name"), SetWorkflowID(wfid):
        b.withdraw(1)


def test_recovery_runs_on_the_registered_instance(db_url: str) -> None:
    config = make_config(db_url)
    DBOS(config=config)
    DBOS.launch()
    acct = Account("blocking", 50)
    wfid = f"recover-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(acct.withdraw, 5)
    assert entered.wait(30)
    DBOS.destroy()  # abandoned mid-step, as in a crash
    DBOS(config=config)
    DBOS.launch()
    release.set()
    assert DBOS.retrieve_workflow(wfid).get_result() == 45
    assert acct.runs == [wfid, wfid]  # both executions ran on the very same object


def test_queue_runs_on_the_registered_instance(db_url: str) -> None:
    queue = Queue(f"accounts-{uuid.uuid4().hex[:8]}")
    DBOS(config=make_config(db_url))
    DBOS.launch()
    acct = Account("queued", 20)
    handle = queue.enqueue(acct.withdraw, 3)
    assert handle.get_result() == 17
    assert acct.runs == [handle.workflow_id]
