from __future__ import annotations

from tether import DBOS


def test_workflow_with_steps_returns_result(dbos: type[DBOS]) -> None:
    calls: list[int] = []

    @DBOS.step()
    def double(x: int) -> int:
        calls.append(x)
        return x * 2

    @DBOS.workflow()
    def two_steps(x: int) -> int:
        return double(double(x))

    assert two_steps(3) == 12
    assert calls == [3, 6]
