"""A durable ``asyncio_wait`` replays with the same step numbering as its first run, also when the recorded
split returns at once (both backends)."""

from __future__ import annotations

import asyncio

from tether import DBOS

runs: list[str] = []


def test_replay_after_a_timed_out_wait_reruns_nothing(dbos: type[DBOS]) -> None:
    gate: dict[str, asyncio.Event] = {}

    @DBOS.step()
    async def blocked(val: str) -> str:
        runs.append(val)
        await gate["g"].wait()
        return val

    @DBOS.workflow()
    async def waits() -> list[str]:
        gate.setdefault("g", asyncio.Event())
        done, pending = await DBOS.asyncio_wait([blocked("a"), blocked("b")], timeout=0.05)
        assert not done and len(pending) == 2
        gate["g"].set()
        done2, pending2 = await DBOS.asyncio_wait(list(pending))
        assert not pending2
        return sorted(t.result() for t in done2)

    async def scenario() -> None:
        runs.clear()
        handle = await DBOS.start_workflow_async(waits)
        assert await handle.get_result() == ["a", "b"]
        gate.clear()
        forked = await DBOS.fork_workflow_async(handle.workflow_id, 100)  # replay everything recorded
        assert await forked.get_result() == ["a", "b"]
        assert sorted(runs) == ["a", "b"]  # the steps ran once, in the first run only

    asyncio.run(scenario())
