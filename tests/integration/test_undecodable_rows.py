"""A stored value this process cannot decode marks its row in listings instead of failing the call
(both backends)."""

from __future__ import annotations

import sys
import types
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_config
from tether import DBOS, PortableWorkflowError, SetWorkflowID
from tether.serialization import UndecodableValue

from .test_serializers import TaggedJSON


@DBOS.workflow()
def echo(x: Any) -> Any:
    return x


@DBOS.workflow()
def fail_with(exc: BaseException) -> None:
    raise exc


@pytest.fixture(autouse=True)
def _destroy() -> Iterator[None]:
    yield
    DBOS.destroy()


def _vanishing_class() -> tuple[type, type[Exception]]:
    """Classes whose module disappears, as when the code that pickled them is gone."""
    mod = types.ModuleType("tether_test_vanishing")
    exec("class Gone:\n    pass\nclass GoneError(Exception):\n    pass\n", mod.__dict__)
    sys.modules[mod.__name__] = mod
    return mod.Gone, mod.GoneError


def test_unpicklable_rows_are_marked_not_fatal(db_url: str) -> None:
    DBOS(config=make_config(db_url))
    DBOS.launch()
    gone, gone_error = _vanishing_class()
    bad, worse, good = (f"{p}-{uuid.uuid4()}" for p in ("bad", "worse", "good"))
    with SetWorkflowID(bad):
        echo(gone())
    with SetWorkflowID(worse), pytest.raises(gone_error):
        fail_with(gone_error("lost"))
    with SetWorkflowID(good):
        echo(1)
    del sys.modules["tether_test_vanishing"]

    rows = {s.workflow_id: s for s in DBOS.list_workflows(workflow_ids=[bad, worse, good])}
    assert rows[good].output == 1 and rows[good].input == {"args": (1,), "kwargs": {}}
    assert isinstance(rows[bad].input, UndecodableValue) and isinstance(rows[bad].output, UndecodableValue)
    assert "tether_test_vanishing" in rows[bad].output.reason
    assert isinstance(rows[worse].error, PortableWorkflowError) and rows[worse].error.name == "UndecodableError"
    status = DBOS.get_workflow_status(bad)
    assert status is not None and isinstance(status.output, UndecodableValue)
    steps = DBOS.list_workflow_steps(bad)
    assert all(not isinstance(s["output"], Exception) for s in steps)


def test_values_of_a_serializer_not_configured_here_are_marked(db_url: str) -> None:
    config = make_config(db_url, serializer=TaggedJSON())
    DBOS(config=config)
    DBOS.launch()
    written = f"tagged-{uuid.uuid4()}"
    with SetWorkflowID(written):
        echo({"a": 1})
    DBOS.destroy()
    del config["serializer"]
    DBOS(config=config)
    DBOS.launch()
    with SetWorkflowID(plain := f"plain-{uuid.uuid4()}"):
        echo(2)
    rows = {s.workflow_id: s for s in DBOS.list_workflows(workflow_ids=[written, plain])}
    assert rows[plain].output == 2
    marker = rows[written].output
    assert isinstance(marker, UndecodableValue) and "tagged_json" in marker.reason
    assert "undecodable" in str(marker)
