"""``AsyncSQLAlchemyDatasource``: the async form of :class:`~tether.api.datasource.SQLAlchemyDatasource`, for
coroutine transactions, as in DBOS 3.4 (an ``AsyncEngine``: ``postgresql+psycopg`` on PostgreSQL,
``sqlite+aiosqlite`` on SQLite, which needs the ``aiosqlite`` package).

    orders = await AsyncSQLAlchemyDatasource.create("postgresql://localhost/shop")

    @orders.transaction()
    async def place(item: str) -> int:
        result = await orders.sql_session().execute(text("INSERT INTO orders (item) VALUES (:i) RETURNING id"),
                                                    {"i": item})
        return result.scalar_one()
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tether.api.datasource import (
    DatasourceOptions,
    IsolationLevel,
    check_target,
    load_sqlalchemy,
)
from tether.engine.async_transactions import AsyncTransactionRunner
from tether.engine.transactions import current_session
from tether.errors import DBOSException
from tether.serialization import Serializer
from tether.storage.datasource import prepare_sqlite_engine

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
    from sqlalchemy.ext.asyncio import async_sessionmaker as AsyncSessionMaker

R = TypeVar("R")


class AsyncSQLAlchemyDatasource:
    """A database the application's coroutine transactions run on. Make one with :meth:`create`."""

    def __init__(self, *, database_url: str, engine_kwargs: dict[str, Any] | None = None,
                 engine: AsyncEngine | None = None, schema: str | None = None, serializer: Serializer | None = None,
                 sessionmaker: AsyncSessionMaker[Any] | None = None) -> None:
        sa = load_sqlalchemy()
        from sqlalchemy.ext import asyncio as sa_asyncio

        self.is_sqlite, self.schema = check_target(database_url, schema, sessionmaker,
                                                   sa_asyncio.async_sessionmaker,
                                                   "AsyncSQLAlchemyDatasource requires an async_sessionmaker")
        if engine is None:
            kwargs = dict(engine_kwargs or {})
            url = sa.make_url(database_url)
            if self.is_sqlite:
                engine = sa_asyncio.create_async_engine(url.set(drivername="sqlite+aiosqlite"), **kwargs)
                prepare_sqlite_engine(engine.sync_engine)
            else:
                engine = sa_asyncio.create_async_engine(url.set(drivername="postgresql+psycopg"), **kwargs)
            self.created_engine = True
        else:
            self.created_engine = False
        self.engine: AsyncEngine = engine
        self.serializer = serializer  # accepted as DBOS takes it; values use the application's serializer
        self.sessionmaker: AsyncSessionMaker[Any] = sessionmaker or sa_asyncio.async_sessionmaker(
            expire_on_commit=False)
        self._runner = AsyncTransactionRunner(self.engine, self.sessionmaker,
                                              "sqlite" if self.is_sqlite else "postgres", self.schema)

    @staticmethod
    async def create(database_url: str, engine_kwargs: dict[str, Any] | None = None,
                     engine: AsyncEngine | None = None, schema: str | None = None,
                     serializer: Serializer | None = None, sessionmaker: AsyncSessionMaker[Any] | None = None,
                     run_migrations: bool = True) -> AsyncSQLAlchemyDatasource:
        """As :meth:`SQLAlchemyDatasource.create`, awaited.

        Raises:
            The same as :meth:`SQLAlchemyDatasource.create`.
        """
        ds = AsyncSQLAlchemyDatasource(database_url=database_url, engine_kwargs=engine_kwargs, engine=engine,
                                       schema=schema, serializer=serializer, sessionmaker=sessionmaker)
        if run_migrations:
            await ds.run_migrations()
        else:
            await ds.verify_migrations()
        return ds

    @staticmethod
    async def migrate(database_url: str, *, schema: str | None = None, application_role: str | None = None) -> None:
        """As :meth:`SQLAlchemyDatasource.migrate`, awaited.

        Raises:
            DBOSException: ``application_role`` on SQLite.
        """
        ds = AsyncSQLAlchemyDatasource(database_url=database_url, schema=schema)
        try:
            if application_role and ds.is_sqlite:
                raise DBOSException("application_role is only supported for Postgres databases")
            await ds.run_migrations()
            if application_role:
                await ds._runner.grant(application_role)
        finally:
            await ds.engine.dispose()

    async def run_migrations(self) -> None:
        """Create the checkpoint table (and its schema) if missing."""
        await self._runner.create_table()

    async def verify_migrations(self) -> None:
        """Raises:
            DBOSException: the checkpoint table is missing (run :meth:`migrate` with a privileged role)."""
        await self._runner.verify_table()

    def sql_session(self) -> AsyncSession:
        """The session of the coroutine transaction running now.

        Raises:
            DBOSException: called outside a datasource transaction.
        """
        return cast("AsyncSession", current_session("async"))

    async def run_tx_step_async(self, ds_options: DatasourceOptions | None,
                                func: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Run the coroutine function ``func`` in one transaction (a step, inside a workflow).

        Raises:
            DBOSException: ``func`` is not a coroutine function. Otherwise what ``func`` raises.
        """
        name = str((ds_options or {}).get("name") or getattr(func, "__qualname__", "transaction"))
        isolation = (ds_options or {}).get("isolation_level") or "SERIALIZABLE"
        if not inspect.iscoroutinefunction(func):
            raise DBOSException(f"Function {name} is not a coroutine; use SQLAlchemyDatasource.run_tx_step")
        return cast(R, await self._runner.run(name, isolation, func, args, kwargs))

    def transaction(self, func: Callable[..., Any] | None = None, *, name: str | None = None,
                    isolation_level: IsolationLevel = "SERIALIZABLE") -> Any:
        """Make a coroutine function a transaction on this datasource (``@ds.transaction`` or
        ``@ds.transaction()``).

        Raises:
            DBOSException: the function is not a coroutine function.
        """
        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            if not inspect.iscoroutinefunction(f):
                raise DBOSException(f"AsyncDatasource.transaction requires a coroutine function, but "
                                    f"{f.__qualname__} is not")
            options: DatasourceOptions = {"isolation_level": isolation_level, "name": name}

            @functools.wraps(f)
            async def run(*args: Any, **kwargs: Any) -> Any:
                return await self.run_tx_step_async(options, f, *args, **kwargs)

            return run

        return decorate(func) if func is not None else decorate
