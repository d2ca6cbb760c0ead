"""The public surface is pinned: adding or removing a name is a deliberate change to this list."""

from __future__ import annotations

import tether


def test_public_names_are_pinned() -> None:
    assert sorted(tether.__all__) == sorted(
        name for name in dir(tether) if not name.startswith("_") and name in tether.__all__
    )
    for name in tether.__all__:
        assert hasattr(tether, name), name
    core = {"DBOS", "DBOSClient", "SetWorkflowID", "WorkflowHandle", "WorkflowHandleAsync", "WorkflowStatus",
            "WorkflowStatusString", "StepInfo", "StepOptions", "DBOSConfig", "WorkflowSerializationFormat",
            "StreamRead", "TetherError"}
    assert core <= set(tether.__all__)


def test_every_public_error_is_a_tether_error() -> None:
    for name in tether.__all__:
        obj = getattr(tether, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, tether.TetherError), name


def test_py_typed_is_shipped() -> None:
    from importlib import resources

    assert resources.files("tether").joinpath("py.typed").is_file()
