"""The roots of Tether's exception tree (``TetherError``, ``DBOSBaseException``), DBOS's error numbers, and
the errors about setup, arguments and storage that any layer raises. The whole tree is drawn in
``tether/errors/__init__.py``."""

from __future__ import annotations

from enum import Enum
from typing import Any


class DBOSErrorCode(Enum):
    """DBOS's error numbers, kept on each error as ``dbos_error_code``."""

    ConflictingIDError = 1
    RecoveryError = 2
    InitializationError = 3
    WorkflowFunctionNotFound = 4
    NonExistentWorkflowError = 5
    MaxRecoveryAttemptsExceeded = 6
    MaxStepRetriesExceeded = 7
    NotAuthorized = 8
    ConflictingWorkflowError = 9
    WorkflowCancelled = 10
    UnexpectedStep = 11
    QueueDeduplicated = 12
    AwaitedWorkflowCancelled = 13
    AwaitedWorkflowMaxRecoveryAttemptsExceeded = 14
    PatchNondeterminism = 15
    StreamTimeout = 16
    StreamNondeterminism = 17
    StepTimeout = 18
    QueryTimeout = 26
    WorkflowIDInUse = 27
    StepNondeterminism = 28


def _render(message: str, code: int | None) -> str:
    return f"DBOS Error {code}: {message}" if code else message


class _Rebuildable:
    """Errors whose constructor is not ``(message)`` keep their arguments so that pickle can rebuild them."""

    _ctor_args: tuple[Any, ...]

    def __reduce__(self) -> Any:
        args = getattr(self, "_ctor_args", None)
        if args is None:
            return super().__reduce__()
        return (type(self), args, self.__dict__)


class TetherError(_Rebuildable, Exception):
    """Base class of every exception Tether raises (``DBOSException`` is the same class)."""

    def __init__(self, message: str = "", dbos_error_code: int | None = None) -> None:
        self.message = message
        self.dbos_error_code = dbos_error_code
        super().__init__(message)

    def __str__(self) -> str:
        return _render(self.message, self.dbos_error_code)


DBOSException = TetherError


class DBOSBaseException(_Rebuildable, BaseException):
    """Base of the errors that end a workflow's execution; not an ``Exception``, so user code does not
    swallow them with ``except Exception``."""

    def __init__(self, message: str = "", dbos_error_code: int | None = None) -> None:
        self.message = message
        self.dbos_error_code = dbos_error_code
        super().__init__(message)

    def __str__(self) -> str:
        return _render(self.message, self.dbos_error_code)


class NotLaunchedError(TetherError, RuntimeError):
    """An API call that needs a launched DBOS was made before ``DBOS.launch()`` or after ``destroy()``."""


class NotInWorkflowError(TetherError, RuntimeError):
    """A call that only makes sense inside a workflow (or step) was made outside one."""


class DBOSInitializationError(TetherError):
    """DBOS could not be initialized."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Error initializing DBOS: {message}", DBOSErrorCode.InitializationError.value)
        self.detail = message
        self._ctor_args = (message,)


class ConfigError(DBOSInitializationError, ValueError):
    """The configuration (a key, a value, the database URL) is invalid."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.dbos_error_code = None


class SerializationError(TetherError, TypeError):
    """A value could not be serialized (or deserialized) in the requested format."""


class StorageError(TetherError):
    """The database failed. The driver's exception is attached as ``__cause__``."""


class DatabaseUnavailableError(StorageError):
    """The database is unreachable or cannot take writes for now: the connection was lost, the server is
    restarting or shutting down, a SQLite write lock was held past the busy timeout, the disk is full, or the
    database is read-only.

    Tether retries every operation that meets such a fault, with backoff, until the database is back, so
    this error reaches code only when the caller's own timeout (``get_result(timeout)``, ``get_event``'s
    ``timeout_seconds`` outside a workflow) ran out first. It is never recorded as a workflow's outcome.
    """
class InvalidArgumentError(TetherError, ValueError):
    """An argument's value cannot be accepted, and nothing was written: an ID, key, topic or name that is empty
    where it may not be, contains a NUL character or a lone surrogate, or is longer than
    :data:`tether.engine.validation.MAX_TEXT_BYTES` bytes of UTF-8; a timeout that is NaN, infinite, negative or
    over :data:`tether.engine.validation.MAX_TIMEOUT_SECONDS`; an offset or step number out of range.
    ``argument`` names the parameter."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self._ctor_args = (argument, message)


class ArgumentTypeError(TetherError, TypeError):
    """An argument has the wrong type (an ``int`` idempotency key, a ``str`` timeout); nothing was written.
    ``argument`` names the parameter."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self._ctor_args = (argument, message)
