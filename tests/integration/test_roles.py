"""Role-based security on both backends: the identity a workflow is started under is recorded with it and is
the one it runs as wherever it runs (a background thread, a queue, recovery after a restart, a fork), and a
workflow or step that requires a role the identity does not hold is refused -- before anything is written
for a direct call, and as the workflow's ERROR outcome (never a PENDING left to retry) once it is recorded."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    ArgumentTypeError,
    DBOSClient,
    DBOSConfiguredInstance,
    DBOSContextEnsure,
    DBOSContextSetAuth,
    InvalidArgumentError,
    Queue,
    SetWorkflowID,
)
from tether.engine.auth import guard_of
from tether.error import DBOSNotAuthorizedError

NO_AUTH = "requires a role, but was called in a context without authentication information"
NOT_HELD = "has required roles, but user is not authenticated for any of them"


def _identity() -> tuple[str | None, list[str] | None, str | None]:
    return DBOS.authenticated_user, DBOS.authenticated_roles, DBOS.assumed_role


@DBOS.required_roles(["admin"])
@DBOS.workflow(name="roles.admin_only")
def admin_only(x: int) -> Any:
    return [x, *_identity()]


@DBOS.required_roles(["admin"])
@DBOS.workflow(name="roles.admin_only_async")
async def admin_only_async() -> Any:
    await asyncio.sleep(0)
    return list(_identity())


@DBOS.workflow(name="roles.open")
def open_workflow() -> Any:
    return list(_identity())


def _names(name: str) -> list[str]:
    return [s.workflow_id for s in DBOS.list_workflows(name=name)]


def test_a_direct_call_is_refused_before_anything_is_written(dbos: type[DBOS]) -> None:
    before = _names("roles.admin_only")
    with pytest.raises(DBOSNotAuthorizedError, match=f"^DBOS Error 8: Function .*admin_only {NO_AUTH}$"):
        admin_only(1)
    with DBOSContextSetAuth("bob", ["reader"]), pytest.raises(DBOSNotAuthorizedError, match=NOT_HELD):
        admin_only(2)
    assert _names("roles.admin_only") == before  # neither call recorded a workflow

    wfid = f"roles-{uuid.uuid4().hex[:10]}"
    with DBOSContextSetAuth("alice", ["user", "admin"]), SetWorkflowID(wfid):
        assert admin_only(3) == [3, "alice", ["user", "admin"], "admin"]
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "SUCCESS"
    assert (status.authenticated_user, status.authenticated_roles, status.assumed_role) == \
        ("alice", ["user", "admin"], "admin")
    assert [s.workflow_id for s in DBOS.list_workflows(user="alice", workflow_ids=[wfid])] == [wfid]


def test_outside_a_block_nobody_is_authenticated_and_blocks_nest(dbos: type[DBOS]) -> None:
    assert _identity() == (None, None, None)
    with DBOSContextSetAuth("a", ["x"]):
        assert _identity() == ("a", ["x"], None)
        with DBOSContextSetAuth("b", None):
            assert _identity() == ("b", None, None)
            DBOS.set_authentication("c", ["y"])  # changes the innermost block only
            assert _identity() == ("c", ["y"], None)
        assert _identity() == ("a", ["x"], None)
    with DBOSContextEnsure():
        assert _identity() == (None, None, None)


def test_a_background_start_that_is_refused_ends_in_error(dbos: type[DBOS]) -> None:
    with DBOSContextSetAuth("bob", ["reader"]):
        handle = DBOS.start_workflow(admin_only, 1)
    with pytest.raises(DBOSNotAuthorizedError, match=NOT_HELD):
        handle.get_result()
    status = handle.get_status()
    assert status.status == "ERROR" and status.authenticated_user == "bob"

    with DBOSContextSetAuth("carol", ["admin"]):
        ok = DBOS.start_workflow(admin_only, 2)
    assert ok.get_result() == [2, "carol", ["admin"], "admin"]


def test_async_workflows_are_checked_the_same_way(dbos: type[DBOS]) -> None:
    async def main() -> None:
        with DBOSContextSetAuth("bob", ["reader"]):
            refused = await DBOS.start_workflow_async(admin_only_async)
            with pytest.raises(DBOSNotAuthorizedError):
                await admin_only_async()
        with pytest.raises(DBOSNotAuthorizedError):
            await refused.get_result()
        assert (await refused.get_status()).status == "ERROR"
        async with DBOSContextSetAuth("dora", ["admin", "user"]):
            assert await admin_only_async() == ["dora", ["admin", "user"], "admin"]

    asyncio.run(main())


def test_queued_workflows_run_as_their_enqueuer_or_end_in_error(dbos: type[DBOS], db_url: str) -> None:
    queue = Queue(f"roles-{uuid.uuid4().hex[:8]}")
    with DBOSContextSetAuth("erin", ["admin"]):
        allowed = queue.enqueue(admin_only, 1)
        refused_by_options = DBOS.enqueue_workflow_with_options(
            {"queue_name": queue.name, "workflow_name": "roles.admin_only", "authenticated_user": "frank",
             "authenticated_roles": ["reader"]}, 2)
    anonymous = queue.enqueue(admin_only, 3)
    assert allowed.get_result() == [1, "erin", ["admin"], "admin"]
    for handle, message in ((refused_by_options, NOT_HELD), (anonymous, NO_AUTH)):
        with pytest.raises(DBOSNotAuthorizedError, match=message):
            handle.get_result()
        assert handle.get_status().status == "ERROR"
    assert refused_by_options.get_status().authenticated_roles == ["reader"]

    with DBOSClient(system_database_url=db_url) as client:
        by_client = client.enqueue({"queue_name": queue.name, "workflow_name": "roles.admin_only",
                                    "authenticated_user": "gina", "authenticated_roles": ["admin"]}, 4)
        assert by_client.get_result() == [4, "gina", ["admin"], "admin"]


@DBOS.workflow(name="roles.parent")
def parent() -> Any:
    direct = open_workflow()
    started = DBOS.start_workflow(admin_only, 5).get_result()
    DBOS.set_authentication("henry", ["admin"])  # for what it calls and starts from now on
    later = admin_only(6)
    return [direct, started, later, list(_identity())]


def test_children_inherit_the_identity_their_parent_runs_as(dbos: type[DBOS]) -> None:
    wfid = f"roles-parent-{uuid.uuid4().hex[:8]}"
    with DBOSContextSetAuth("ivy", ["admin", "user"]), SetWorkflowID(wfid):
        direct, started, later, own = parent()
    assert direct == ["ivy", ["admin", "user"], None]
    assert started == [5, "ivy", ["admin", "user"], "admin"]
    assert later == [6, "henry", ["admin"], "admin"]
    assert own == ["henry", ["admin"], None]
    children = {s.workflow_id: s for s in DBOS.list_workflows(parent_workflow_id=wfid)}
    assert sorted(s.authenticated_user or "" for s in children.values()) == ["henry", "ivy", "ivy"]


started_runs: list[str] = []
release = threading.Event()


@DBOS.workflow(name="roles.blocks")
def blocks() -> Any:
    started_runs.append(DBOS.workflow_id or "")
    release.wait(30)
    return list(_identity())


def _wait_for_a_run() -> None:
    deadline = time.monotonic() + 10
    while not started_runs:
        assert time.monotonic() < deadline, "the workflow never started"
        threading.Event().wait(0.01)


def _relaunch(config: dict[str, Any]) -> None:
    DBOS.destroy()
    DBOS(config=config)
    DBOS.launch()


@pytest.fixture
def relaunchable(db_url: str) -> Iterator[dict[str, Any]]:
    """A launched DBOS and its config, for a test that launches again (as a restart would); what blocks is
    released at the end."""
    config = make_config(db_url)
    DBOS(config=config)
    DBOS.launch()
    started_runs.clear()
    release.clear()
    try:
        yield config
    finally:
        release.set()
        DBOS.destroy()


def test_a_recovered_workflow_runs_as_the_identity_recorded_with_it(relaunchable: dict[str, Any]) -> None:
    with DBOSContextSetAuth("jack", ["user", "admin"]):
        handle = DBOS.start_workflow(blocks)
    _wait_for_a_run()
    _relaunch(relaunchable)  # abandons the first run mid-way, as a crash would
    release.set()
    assert DBOS.retrieve_workflow(handle.workflow_id).get_result() == ["jack", ["user", "admin"], None]
    assert len(started_runs) == 2


@DBOS.workflow(name="roles.later_gated")
def later_gated() -> str:
    started_runs.append(DBOS.workflow_id or "")
    release.wait(30)
    return "ran"


def test_a_recovered_workflow_refused_by_new_code_ends_in_error_not_pending(relaunchable: dict[str, Any]) -> None:
    guard_of(later_gated).require([])  # this code requires nothing yet (the other backend's run changed it)
    with DBOSContextSetAuth("kim", ["reader"]):
        handle = DBOS.start_workflow(later_gated)
    _wait_for_a_run()
    DBOS.destroy()
    DBOS.required_roles(["admin"])(later_gated)  # the next deployment requires a role kim lacks
    DBOS(config=relaunchable)
    DBOS.launch()
    release.set()
    with pytest.raises(DBOSNotAuthorizedError, match=NOT_HELD):
        DBOS.retrieve_workflow(handle.workflow_id).get_result()
    status = DBOS.get_workflow_status(handle.workflow_id)
    assert status is not None and status.status == "ERROR"
    assert len(started_runs) == 1  # the refused recovery never ran the body


@DBOS.default_required_roles(["user"])
class Accounts(DBOSConfiguredInstance):
    def __init__(self) -> None:
        super().__init__("accounts")

    @DBOS.workflow(name="roles.Accounts.view")
    def view(self) -> Any:
        return [self.config_name, *_identity(), self.audit()]

    @DBOS.required_roles(["admin"])
    @DBOS.workflow(name="roles.Accounts.close")
    def close(self) -> Any:
        return list(_identity())

    @staticmethod
    @DBOS.workflow(name="roles.Accounts.count")
    def count() -> Any:
        return DBOS.assumed_role

    @DBOS.step()
    def audit(self) -> Any:
        return DBOS.assumed_role

    @DBOS.step()
    @DBOS.required_roles(["auditor"])
    def deep_audit(self) -> Any:
        return DBOS.assumed_role


@DBOS.workflow(name="roles.calls_step")
def calls_step() -> Any:
    accounts = Accounts()
    try:
        accounts.deep_audit()
    except DBOSNotAuthorizedError as exc:
        return f"refused: {exc.msg}"
    return "allowed"


def test_a_class_default_applies_to_its_workflows_and_steps_without_roles_of_their_own(
        dbos: type[DBOS]) -> None:
    accounts = Accounts()
    for call in (accounts.view, accounts.close, Accounts.count):
        with pytest.raises(DBOSNotAuthorizedError):
            call()
    with DBOSContextSetAuth("lena", ["user"]):
        assert accounts.view() == ["accounts", "lena", ["user"], "user", "user"]
        assert Accounts.count() == "user"
        with pytest.raises(DBOSNotAuthorizedError, match=NOT_HELD):
            accounts.close()
        # a step refused inside a workflow raises there, and the workflow may handle it
        assert calls_step() == f"refused: Function Accounts.deep_audit {NOT_HELD}"
    with DBOSContextSetAuth("max", ["admin"]):
        assert accounts.close() == ["max", ["admin"], "admin"]
    with DBOSContextSetAuth("nia", ["user", "auditor"]):
        assert calls_step() == "allowed"


def test_fork_keeps_the_identity(dbos: type[DBOS]) -> None:
    with DBOSContextSetAuth("olga", ["admin"]):
        handle = DBOS.start_workflow(admin_only, 7)
    handle.get_result()
    forked = DBOS.fork_workflow(handle.workflow_id, 1)
    assert forked.get_result() == [7, "olga", ["admin"], "admin"]
    status = forked.get_status()
    assert (status.authenticated_user, status.authenticated_roles) == ("olga", ["admin"])


def test_bad_identities_are_refused_before_anything_is_written(dbos: type[DBOS]) -> None:
    for user, roles in ((1, None), ("u", "admin"), ("u", ["admin", 2]), ("u", {"admin": 1})):
        with pytest.raises(ArgumentTypeError):
            DBOSContextSetAuth(user, roles)  # type: ignore[arg-type]
    for user, roles in (("nul\x00user", None), ("u", ["ad\x00min"]), ("\ud800", None), ("u", ["x" * 70000])):
        with pytest.raises(InvalidArgumentError):  # could not be stored: refused before anything is
            DBOSContextSetAuth(user, roles)
    with pytest.raises(ArgumentTypeError):
        DBOS.required_roles("admin")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError):
        DBOS.set_authentication("u", "admin")  # type: ignore[arg-type]
    queue = Queue(f"roles-bad-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ArgumentTypeError):
        DBOS.enqueue_workflow_with_options({"queue_name": queue.name, "workflow_name": "roles.open",
                                            "authenticated_roles": "admin"})  # type: ignore[typeddict-item]
    assert DBOS.list_workflows(queue_name=queue.name) == []
