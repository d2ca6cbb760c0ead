"""``SQLAlchemyDatasource``: transactions on the application's own database (PostgreSQL or SQLite), run exactly
once from workflows, as in DBOS 3.4.

    orders = SQLAlchemyDatasource.create("postgresql://localhost/shop")

    @orders.transaction()
    def place(item: str) -> int:
        return orders.sql_session().execute(text("INSERT INTO orders (item) VALUES (:i) RETURNING id"),
                                            {"i": item}).scalar_one()

Called from a workflow, ``place`` is a step whose outcome is committed with its own writes (see
:mod:`tether.engine.transactions`); called elsewhere it is a plain transaction. Needs SQLAlchemy 2
(``pip install 'tether[datasource]'``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, cast, overload

from tether.engine.transactions import TransactionRunner, current_session
from tether.errors import ArgumentTypeError, DBOSException
from tether.serialization import Serializer
from tether.storage.datasource import prepare_sqlite_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session
    from sqlalchemy.orm import sessionmaker as SessionMaker

R = TypeVar("R")
IsolationLevel = Literal["SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED"]


class DatasourceOptions(TypedDict, total=False):
    name: str | None
    isolation_level: IsolationLevel | None


def load_sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError as exc:  # pragma: no cover - SQLAlchemy is installed with tether[datasource]
        raise DBOSException("SQLAlchemyDatasource needs SQLAlchemy 2: pip install 'tether[datasource]'") from exc
    return sqlalchemy


def check_target(database_url: object, schema: str | None, sessionmaker: Any, sessionmaker_type: type,
                 needs: str) -> tuple[bool, str | None]:
    """(on SQLite?, the schema of the checkpoint table) for a datasource's arguments, once checked.

    Raises:
        ArgumentTypeError: no database URL.
        DBOSException: ``sessionmaker`` is not a ``sessionmaker_type`` (``needs`` names it), or sets ``binds=``.
    """
    if not isinstance(database_url, str) or not database_url:
        raise ArgumentTypeError("database_url", "must be a database URL (postgresql://... or sqlite:///...)")
    if sessionmaker is not None and not isinstance(sessionmaker, sessionmaker_type):
        raise DBOSException(needs)
    if sessionmaker is not None and getattr(sessionmaker, "kw", {}).get("binds"):
        raise DBOSException("A datasource sessionmaker must not set binds=: every statement of a datasource "
                            "transaction must use the datasource's engine, to commit with its checkpoint")
    is_sqlite = database_url.startswith("sqlite")
    return is_sqlite, None if is_sqlite else (schema or "dbos")


class SQLAlchemyDatasource:
    """A database the application's transactions run on. Make one with :meth:`create`."""

    def __init__(self, *, database_url: str, engine_kwargs: dict[str, Any] | None = None,
                 engine: Engine | None = None, schema: str | None = None, serializer: Serializer | None = None,
                 sessionmaker: SessionMaker[Any] | None = None) -> None:
        sa = load_sqlalchemy()
        from sqlalchemy import orm

        self.is_sqlite, self.schema = check_target(database_url, schema, sessionmaker, orm.sessionmaker,
                                                   "SQLAlchemyDatasource requires a sqlalchemy.orm.sessionmaker")
        if engine is None:
            kwargs = dict(engine_kwargs or {})
            if self.is_sqlite:
                engine = sa.create_engine(database_url, **kwargs)
                prepare_sqlite_engine(engine)
            else:
                url = sa.make_url(database_url).set(drivername="postgresql+psycopg")
                engine = sa.create_engine(url, **kwargs)
            self.created_engine = True
        else:
            self.created_engine = False
        self.engine: Engine = engine
        self.serializer = serializer  # accepted as DBOS takes it; values use the application's serializer
        self.sessionmaker: SessionMaker[Any] = sessionmaker or orm.sessionmaker(expire_on_commit=False)
        self._runner = TransactionRunner(self.engine, self.sessionmaker, "sqlite" if self.is_sqlite else "postgres",
                                         self.schema)

    @staticmethod
    def create(database_url: str, engine_kwargs: dict[str, Any] | None = None, engine: Engine | None = None,
               schema: str | None = None, serializer: Serializer | None = None,
               sessionmaker: SessionMaker[Any] | None = None, run_migrations: bool = True
               ) -> SQLAlchemyDatasource:
        """A datasource on ``database_url`` (or on ``engine``), its checkpoint table created when missing
        (``run_migrations``; else it must exist already). ``schema`` holds the table on PostgreSQL
        (default ``dbos``, as DBOS).

        Raises:
            ArgumentTypeError: no database URL.
            DBOSException: a sessionmaker that is not one or that sets ``binds=``; with ``run_migrations=False``,
                a database without the checkpoint table.
        """
        ds = SQLAlchemyDatasource(database_url=database_url, engine_kwargs=engine_kwargs, engine=engine,
                                  schema=schema, serializer=serializer, sessionmaker=sessionmaker)
        if run_migrations:
            ds.run_migrations()
        else:
            ds.verify_migrations()
        return ds

    @staticmethod
    def migrate(database_url: str, *, schema: str | None = None, application_role: str | None = None) -> None:
        """Create the checkpoint table with a privileged role, and let ``application_role`` (PostgreSQL) use it.

        Raises:
            DBOSException: ``application_role`` on SQLite.
        """
        ds = SQLAlchemyDatasource(database_url=database_url, schema=schema)
        try:
            if application_role and ds.is_sqlite:
                raise DBOSException("application_role is only supported for Postgres databases")
            ds.run_migrations()
            if application_role:
                ds._runner.grant(application_role)
        finally:
            ds.engine.dispose()

    def run_migrations(self) -> None:
        """Create the checkpoint table (and its schema) if missing."""
        self._runner.create_table()

    def verify_migrations(self) -> None:
        """Raises:
            DBOSException: the checkpoint table is missing (run :meth:`migrate` with a privileged role)."""
        self._runner.verify_table()

    def sql_session(self) -> Session:
        """The session of the transaction running now.

        Raises:
            DBOSException: called outside a datasource transaction.
        """
        return cast("Session", current_session())

    def run_tx_step(self, ds_options: DatasourceOptions | None, func: Callable[..., R], *args: Any,
                    **kwargs: Any) -> R:
        """Run ``func`` in one transaction (a step, inside a workflow). ``ds_options``: ``name`` (the step's,
        default the function's qualified name) and ``isolation_level`` (default ``SERIALIZABLE``).

        Raises:
            DBOSException: ``func`` is a coroutine function. Otherwise what ``func`` raises.
        """
        name = str((ds_options or {}).get("name") or getattr(func, "__qualname__", "transaction"))
        isolation = (ds_options or {}).get("isolation_level") or "SERIALIZABLE"
        if inspect.iscoroutinefunction(func):
            raise DBOSException(f"Function {name} is a coroutine; Tether's datasources run synchronous "
                                "transactions")
        return self._runner.run(name, isolation, func, args, kwargs)  # type: ignore[no-any-return]

    @overload
    def transaction(self, func: Callable[..., R]) -> Callable[..., R]: ...

    @overload
    def transaction(self, func: None = None, *, name: str | None = None,
                    isolation_level: IsolationLevel = "SERIALIZABLE") -> Callable[[Callable[..., R]],
                                                                                 Callable[..., R]]: ...

    def transaction(self, func: Callable[..., Any] | None = None, *, name: str | None = None,
                    isolation_level: IsolationLevel = "SERIALIZABLE") -> Any:
        """Make a function a transaction on this datasource (``@ds.transaction`` or ``@ds.transaction()``).

        Raises:
            DBOSException: the function is a coroutine function.
        """
        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            if inspect.iscoroutinefunction(f):
                raise DBOSException(f"SyncDatasource.transaction requires a non-coroutine function, but "
                                    f"{f.__qualname__} is a coroutine")
            options: DatasourceOptions = {"isolation_level": isolation_level, "name": name}

            @functools.wraps(f)
            def run(*args: Any, **kwargs: Any) -> Any:
                return self.run_tx_step(options, f, *args, **kwargs)

            return run

        return decorate(func) if func is not None else decorate
