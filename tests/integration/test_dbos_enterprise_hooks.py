"""Names DBOS ties to its enterprise features (sharded system databases, Conductor alerts) are accepted, so a
DBOS application runs unchanged, and behave as DBOS does on a database that is not sharded and a process
without Conductor."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSException, SetShardKey, SetWorkflowID


@DBOS.workflow(name="hooks.where")
def where() -> object:
    return DBOS.shard_key


def test_a_shard_key_block_runs_its_workflows_unsharded(dbos: type[DBOS]) -> None:
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="shard_key must be a non-empty string"):
            SetShardKey(bad)  # type: ignore[arg-type]
    wfid = f"hooks-{uuid.uuid4().hex[:10]}"
    with SetShardKey("tenant-1"), SetWorkflowID(wfid):
        assert where() is None
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "SUCCESS" and status.shard_key is None
    assert DBOS.shard_key is None


def _handler(name: str, message: str, metadata: dict[str, str]) -> None:
    raise AssertionError("never called: alerts come from DBOS Conductor")


@pytest.fixture
def unlaunched(db_url: str) -> Iterator[dict[str, object]]:
    config = make_config(db_url)
    DBOS(config=config)  # type: ignore[arg-type]
    try:
        yield config
    finally:
        DBOS.destroy()


def test_one_alert_handler_is_accepted_before_launch(unlaunched: dict[str, object]) -> None:
    assert DBOS.alert_handler(_handler) is _handler
    with pytest.raises(DBOSException, match="already defined"):
        DBOS.alert_handler(_handler)
    DBOS.destroy()  # the handler belonged to that application
    DBOS(config=unlaunched)  # type: ignore[arg-type]
    DBOS.launch()
    with pytest.raises(DBOSException, match="before DBOS is launched"):
        DBOS.alert_handler(_handler)
