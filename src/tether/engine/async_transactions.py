"""The async form of :mod:`tether.engine.transactions` (``AsyncSQLAlchemyDatasource``): the same exactly-once
rule, with an ``AsyncEngine`` and ``AsyncSession``; the checkpoint statements run through ``run_sync`` on the
same connection, so they stay in the transaction of the user's writes. A waiting transaction holds no thread."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tether.engine.context import current_step, workflow_for_operation
from tether.engine.registry import StepPolicy
from tether.engine.runtime import logger
from tether.engine.steps import run_step_async
from tether.engine.transactions import (
    AlreadyRecorded,
    enter_session,
    leave_session,
    no_outcome,
    note_retry,
    outcome,
    pauses,
    record_error,
    record_output,
    settled,
)
from tether.errors import DBOSException
from tether.storage.datasource import DatasourceCheckpoints, is_retriable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker


class AsyncTransactionRunner:
    """How one async datasource runs transactions: its engine, its sessions, its checkpoint table."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[Any], backend: str,
                 schema: str | None) -> None:
        self.engine = engine
        self.sessions = sessions
        self.backend = backend
        self.checkpoints = DatasourceCheckpoints(backend, schema)

    async def create_table(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.checkpoints.create)

    async def verify_table(self) -> None:
        """Raises:
            DBOSException: the checkpoint table is missing or unreadable."""
        try:
            async with self.engine.connect() as conn:
                await conn.run_sync(self.checkpoints.read, "", 0)
        except Exception as exc:
            raise DBOSException(f"The datasource's checkpoint table is missing or unreadable ({exc}); create it "
                                "with AsyncSQLAlchemyDatasource.migrate") from exc

    async def grant(self, role: str) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.checkpoints.grant, role)

    async def run(self, name: str, isolation_level: str, func: Callable[..., Awaitable[Any]],
                  args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the coroutine function ``func`` in a transaction: a step inside a workflow, plain outside one.

        Raises:
            Whatever ``func`` raises (the transaction is rolled back).
        """
        wf = workflow_for_operation("transaction")
        if wf is None:
            return await self._attempts(isolation_level, func, args, kwargs, None)
        ran: list[int] = []
        try:
            result = await run_step_async(StepPolicy(name), self._step, (isolation_level, func, args, kwargs, ran),
                                          {})
        except Exception as exc:
            if ran and settled(exc):
                await self._forget(wf.workflow_id, ran[0])
            raise
        if ran:
            await self._forget(wf.workflow_id, ran[0])
        return result

    async def _step(self, isolation_level: str, func: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
                    kwargs: dict[str, Any], ran: list[int]) -> Any:
        step = current_step()
        assert step is not None
        where = (step.workflow.workflow_id, step.function_id)
        ran.append(step.function_id)
        recorded = await self._read(where)
        if recorded is None:
            try:
                return await self._attempts(isolation_level, func, args, kwargs, where)
            except AlreadyRecorded:
                recorded = await self._read(where)
                if recorded is None:
                    raise no_outcome(where) from None
        return outcome(recorded)

    async def _forget(self, workflow_id: str, step_id: int) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(self.checkpoints.forget, workflow_id, step_id)
        except Exception:
            logger.warning("Could not delete the datasource checkpoints of workflow %s", workflow_id, exc_info=True)

    async def _read(self, where: tuple[str, int]) -> tuple[Any, ...] | None:
        for pause in pauses():
            try:
                async with self.engine.connect() as conn:
                    return await conn.run_sync(self.checkpoints.read, *where)
            except Exception as exc:
                if not is_retriable(self.backend, exc):
                    raise
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _attempts(self, isolation_level: str, func: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
                        kwargs: dict[str, Any], where: tuple[str, int] | None) -> Any:
        for pause in pauses():
            try:
                return await self._attempt(isolation_level, func, args, kwargs, where)
            except AlreadyRecorded:
                raise
            except Exception as exc:
                if not is_retriable(self.backend, exc):
                    if where is not None:
                        await self._record_error(where, exc)
                    raise
            note_retry(pause)
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _attempt(self, isolation_level: str, func: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
                       kwargs: dict[str, Any], where: tuple[str, int] | None) -> Any:
        async with self.sessions(bind=self.engine) as session, session.begin():
            if self.backend == "postgres":
                await session.connection(execution_options={"isolation_level": isolation_level})
            token = enter_session(session)
            try:
                output = await func(*args, **kwargs)
            finally:
                leave_session(token)
            if where is not None:
                await session.flush()
                await session.run_sync(record_output, self.checkpoints, where, output)
        return output

    async def _record_error(self, where: tuple[str, int], error: Exception) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(lambda c: record_error(self.checkpoints, c, where, error))
        except Exception:
            logger.warning("Could not record the error of transaction step %s of workflow %s", where[1], where[0],
                           exc_info=True)
