"""``validate_args``: arguments decoded from the database pass the workflow's validator before it runs
(both backends)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tether import DBOS, Queue, SetWorkflowID, make_pydantic_args_validator, pydantic_args_validator

seen: list[Any] = []


@DBOS.workflow(validate_args=pydantic_args_validator)
def typed(count: int, tags: tuple[str, ...] = ()) -> Any:
    seen.append((count, tags))
    return count * 2


def _never(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    raise ValueError(f"refused {args!r}")


@DBOS.workflow(validate_args=_never)
def guarded(x: Any) -> Any:
    return x


def test_queued_arguments_are_converted_by_pydantic(dbos: type[DBOS]) -> None:
    queue = Queue(f"validate-{uuid.uuid4().hex[:8]}")
    seen.clear()
    handle = queue.enqueue(typed, "21", tags=["a", "b"])  # type: ignore[arg-type]
    assert handle.get_result() == 42
    assert seen == [(21, ("a", "b"))]


def test_a_refused_argument_ends_the_workflow_in_error(dbos: type[DBOS]) -> None:
    queue = Queue(f"guard-{uuid.uuid4().hex[:8]}")
    handle = queue.enqueue(guarded, "bad")
    with pytest.raises(ValueError, match="refused"):
        handle.get_result()
    assert handle.get_status().status == "ERROR"


def test_direct_calls_are_not_validated(dbos: type[DBOS]) -> None:
    with SetWorkflowID(f"direct-{uuid.uuid4()}"):
        assert guarded("fine") == "fine"


def test_the_validator_is_usable_on_its_own() -> None:
    def f(a: int, *rest: float, **named: bool) -> None: ...

    check = make_pydantic_args_validator(f)
    assert check(("1", "2.5"), {"flag": "true"}) == ((1, 2.5), {"flag": True})
    with pytest.raises(NotImplementedError):
        pydantic_args_validator((), {})
