"""Database transactions on the application's own database, run exactly once as steps (``SQLAlchemyDatasource``).

Inside a workflow a transaction is a step, and more: its outcome is also recorded in the application's
database, in the transaction itself (storage/datasource.py). So when the process dies after the transaction
committed but before the step's checkpoint reached the system database, the recovered workflow finds the
outcome there and returns it without running the transaction again; its writes happen once. Outside a workflow
it is a plain transaction.

An attempt that fails on a serialization failure or a deadlock (PostgreSQL), or on a locked database (SQLite),
is rolled back and run again after a pause (doubling from 0.1 s to 2 s); any other error is the step's
outcome, recorded like a result. Once the step's checkpoint is in the system database, the row in the
application's database has done its work and is deleted.
"""

from __future__ import annotations

import base64
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tether.engine.context import current_step, workflow_for_operation
from tether.engine.registry import StepPolicy
from tether.engine.runtime import logger
from tether.engine.steps import run_step_sync
from tether.errors import DBOSException, StorageError
from tether.serialization import deserialize, deserialize_error, format_name, serialize, serialize_error
from tether.storage.datasource import DatasourceCheckpoints, is_retriable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import sessionmaker

_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 2.0

_session: contextvars.ContextVar[Any] = contextvars.ContextVar("tether_ds_session", default=None)


def current_session(kind: str = "sync") -> Any:
    """The session of the datasource transaction running here (a ``Session``, or an ``AsyncSession``).

    Raises:
        DBOSException: not called from inside a datasource transaction.
    """
    session = _session.get()
    if session is None:
        raise DBOSException(f"sql_session() must be called within a {kind} datasource transaction")
    return session


def enter_session(session: Any) -> contextvars.Token[Any]:
    return _session.set(session)


def leave_session(token: contextvars.Token[Any]) -> None:
    _session.reset(token)


class TransactionRunner:
    """How one datasource runs transactions: its engine, its sessions, its checkpoint table."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Any], backend: str, schema: str | None) -> None:
        self.engine = engine
        self.sessions = sessions
        self.backend = backend
        self.checkpoints = DatasourceCheckpoints(backend, schema)

    def retriable(self, exc: BaseException) -> bool:
        return is_retriable(self.backend, exc)

    def create_table(self) -> None:
        """Create the checkpoint table (and its schema) if missing."""
        with self.engine.begin() as conn:
            self.checkpoints.create(conn)

    def verify_table(self) -> None:
        """Raises:
            DBOSException: the checkpoint table is missing or unreadable."""
        try:
            with self.engine.connect() as conn:
                self.checkpoints.read(conn, "", 0)
        except Exception as exc:
            raise DBOSException(f"The datasource's checkpoint table is missing or unreadable ({exc}); create it "
                                "with SQLAlchemyDatasource.migrate") from exc

    def grant(self, role: str) -> None:
        with self.engine.begin() as conn:
            self.checkpoints.grant(conn, role)

    def run(self, name: str, isolation_level: str, func: Callable[..., Any], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> Any:
        """Run ``func`` in a transaction: as a step inside a workflow, plainly outside one.

        Raises:
            Whatever ``func`` raises (the transaction is rolled back); ``MaxStepRetriesExceeded`` never (a
            transaction step does not retry on errors of its own).
        """
        wf = workflow_for_operation("transaction")
        if wf is None:
            return self._attempts(isolation_level, func, args, kwargs, None)
        ran: list[int] = []  # the step number, when the step ran (not replayed from the system database)
        try:
            result = run_step_sync(StepPolicy(name), self._step, (isolation_level, func, args, kwargs, ran), {})
        except Exception as exc:
            if ran and settled(exc):
                self._forget(wf.workflow_id, ran[0])
            raise
        if ran:
            self._forget(wf.workflow_id, ran[0])  # checkpointed in the system database now
        return result

    def _step(self, isolation_level: str, func: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any], ran: list[int]) -> Any:
        step = current_step()
        assert step is not None
        where = (step.workflow.workflow_id, step.function_id)
        ran.append(step.function_id)
        recorded = self._read(where)
        if recorded is None:
            try:
                return self._attempts(isolation_level, func, args, kwargs, where)
            except AlreadyRecorded:
                recorded = self._read(where)
                if recorded is None:
                    raise no_outcome(where) from None
        return outcome(recorded)

    def _forget(self, workflow_id: str, step_id: int) -> None:
        """Delete a step's row once its checkpoint is in the system database (best effort: a failure is logged;
        such a row is never read again unless the workflow is rewound to that step)."""
        try:
            with self.engine.begin() as conn:
                self.checkpoints.forget(conn, workflow_id, step_id)
        except Exception:
            logger.warning("Could not delete the datasource checkpoints of workflow %s", workflow_id, exc_info=True)

    def _read(self, where: tuple[str, int]) -> tuple[Any, ...] | None:
        for pause in pauses():
            try:
                with self.engine.connect() as conn:
                    return self.checkpoints.read(conn, *where)
            except Exception as exc:
                if not self.retriable(exc):
                    raise
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _attempts(self, isolation_level: str, func: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any], where: tuple[str, int] | None) -> Any:
        for pause in pauses():
            try:
                return self._attempt(isolation_level, func, args, kwargs, where)
            except AlreadyRecorded:
                raise
            except Exception as exc:
                if not self.retriable(exc):
                    if where is not None:
                        self._record_error(where, exc)
                    raise
            note_retry(pause)
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _attempt(self, isolation_level: str, func: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], where: tuple[str, int] | None) -> Any:
        with self.sessions(bind=self.engine) as session, session.begin():
            if self.backend == "postgres":  # SQLite's transactions are serializable, and nothing else
                session.connection(execution_options={"isolation_level": isolation_level})
            token = enter_session(session)
            try:
                output = func(*args, **kwargs)
            finally:
                leave_session(token)
            if where is not None:
                session.flush()  # the checkpoint holds generated keys and defaults, as the caller sees them
                record_output(session, self.checkpoints, where, output)
        return output

    def _record_error(self, where: tuple[str, int], error: Exception) -> None:
        try:
            with self.engine.begin() as conn:
                record_error(self.checkpoints, conn, where, error)
        except Exception:  # the step's checkpoint in the system database records the error all the same
            logger.warning("Could not record the error of transaction step %s of workflow %s", where[1], where[0],
                           exc_info=True)


def settled(exc: Exception) -> bool:
    """Whether a transaction step that raised ``exc`` has its outcome (that error) checkpointed in the system
    database, so that its row in the application's database may go: every error but the system database's
    own (then the step's checkpoint may be missing, and the row is what keeps the transaction from running
    twice). A row kept would make a rewind to that step replay the error instead of running it again."""
    return not isinstance(exc, StorageError)


class AlreadyRecorded(Exception):
    """Internal: another execution recorded this step's outcome first; this attempt was rolled back."""


def record_output(session: Any, checkpoints: DatasourceCheckpoints, where: tuple[str, int], output: Any) -> None:
    """Insert a step's result into the transaction of ``session`` (a sync one).

    Raises:
        AlreadyRecorded: another execution's outcome is recorded (the caller rolls back and replays it).
    """
    data = base64.b64encode(serialize(output)).decode()
    if not checkpoints.record(session, *where, data, None, format_name(None)):
        raise AlreadyRecorded()


def record_error(checkpoints: DatasourceCheckpoints, conn: Any, where: tuple[str, int], error: Exception) -> None:
    """Insert a step's error (in a transaction of its own, the failed one being rolled back)."""
    checkpoints.record(conn, *where, None, base64.b64encode(serialize_error(error)).decode(), format_name(None))


def no_outcome(where: tuple[str, int]) -> DBOSException:
    return DBOSException(f"Transaction step {where[1]} of workflow {where[0]} conflicted with another execution, "
                         "but no recorded outcome was found")


def note_retry(pause: float) -> None:
    logger.info("Transaction rolled back by a serialization failure or a lock; trying again in %.1f s", pause)


def pauses() -> Iterator[float]:
    """The pauses before the attempts after a retriable failure: from 0.1 s, doubling, at most 2 s."""
    pause = _FIRST_PAUSE
    while True:
        yield pause
        pause = min(pause * 2, _LONGEST_PAUSE)


def outcome(recorded: tuple[Any, ...]) -> Any:
    """The result a recorded row stands for (or raise its error).

    Raises:
        The recorded error; DBOSException for a row this version of Tether cannot read.
    """
    output, error, _ = recorded
    try:
        if error is not None:
            exc = deserialize_error(base64.b64decode(error))
            if exc is not None:
                raise exc
        if output is not None:
            return deserialize(base64.b64decode(output))
    except (ValueError, TypeError) as bad:
        raise DBOSException(f"A datasource checkpoint cannot be read by Tether: {bad}") from None
    raise DBOSException("A datasource checkpoint records neither an output nor an error")
