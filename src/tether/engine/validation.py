"""Checks on the arguments of the public API, made before anything is written, the same on both backends.

Every workflow ID, topic, event or stream key, idempotency key, queue name, deduplication ID and workflow name:

- is a ``str`` (an ``int`` is an :class:`~tether.errors.ArgumentTypeError`, not silently converted);
- contains no NUL character (PostgreSQL cannot store one, and a driver that passes C strings would cut the
  text at it, so ``"victim\\x00x"`` would reach ``"victim"``) and no lone surrogate (it has no UTF-8 form);
- is at most :data:`MAX_TEXT_BYTES` bytes long in UTF-8, so that two of them side by side still fit in one
  PostgreSQL index entry;
- is not empty where an empty value has no meaning (IDs, names; topics and keys may be ``""``); a workflow
  ID is not only spaces either.

Timeouts are numbers from 0 to :data:`MAX_TIMEOUT_SECONDS` (NaN, infinity and negatives are refused); offsets,
limits and step numbers are ``int`` from their minimum to :data:`MAX_INT` (a 64-bit database integer).
Anything else raises :class:`~tether.errors.InvalidArgumentError` (a ``ValueError``) or
:class:`~tether.errors.ArgumentTypeError` (a ``TypeError``), naming the argument.

The checks run on every call, so they are a few type tests and one scan of the text, no regular expression.
"""

from __future__ import annotations

import math

from tether.errors import ArgumentTypeError, InvalidArgumentError

MAX_TEXT_BYTES = 1024
"""The longest ID, key, topic or name accepted, in bytes of UTF-8 (1024 ASCII characters)."""

MAX_TIMEOUT_SECONDS = 1e9
"""The longest timeout accepted, about 31 years: longer waits cannot be represented by every clock on the way."""

MAX_INT = 2**63 - 1
"""The largest offset, limit or step number accepted (a signed 64-bit database integer)."""


def _shown(value: str) -> str:
    return repr(value[:40] + "..." if len(value) > 40 else value)


def text(value: object, argument: str, *, empty: bool = False) -> str:
    """``value`` if it is an acceptable ID, key, topic or name (see the module docstring).

    Raises:
        ArgumentTypeError: it is not a ``str``.
        InvalidArgumentError: it is empty (unless ``empty``), too long, or contains NUL or a lone surrogate.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(argument, f"must be a str, not {type(value).__name__}")
    if value.isascii():
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgumentError(argument, f"contains a lone surrogate: {_shown(value)}") from None
    if size > MAX_TEXT_BYTES:
        raise InvalidArgumentError(argument, f"is {size} bytes long in UTF-8; at most {MAX_TEXT_BYTES} are allowed")
    if "\x00" in value:
        raise InvalidArgumentError(argument, f"contains a NUL character: {_shown(value)}")
    if not size and not empty:
        raise InvalidArgumentError(argument, "must not be empty")
    return value


def optional_text(value: object, argument: str, *, empty: bool = False) -> str | None:
    """Like :func:`text`, but ``None`` passes.

    Raises:
        ArgumentTypeError: it is neither ``None`` nor a ``str``.
        InvalidArgumentError: as :func:`text`.
    """
    return None if value is None else text(value, argument, empty=empty)


def workflow_id(value: object, argument: str = "workflow_id") -> str:
    """A workflow ID: a :func:`text` that is not empty or only spaces.

    Raises:
        ArgumentTypeError: it is not a ``str``.
        InvalidArgumentError: as :func:`text`, or it is empty or only spaces.
    """
    if isinstance(value, str) and (not value or (value[0].isspace() and not value.strip())):
        raise InvalidArgumentError(argument, f"Invalid workflow ID {value!r}: workflow IDs must be non-empty and "
                                             "cannot be only whitespace.")  # DBOS's words
    return text(value, argument)


def timeout(value: object, argument: str = "timeout_seconds") -> float:
    """A number of seconds to wait, from 0 to :data:`MAX_TIMEOUT_SECONDS`.

    Raises:
        ArgumentTypeError: it is not an ``int`` or ``float`` (``bool`` included).
        InvalidArgumentError: it is NaN, infinite, negative, or too large.
    """
    kind = type(value)
    if kind is not float and kind is not int and (kind is bool or not isinstance(value, (int, float))):
        raise ArgumentTypeError(argument, f"must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)  # type: ignore[arg-type]
    if not 0.0 <= seconds <= MAX_TIMEOUT_SECONDS:  # also false for NaN
        if math.isnan(seconds):
            raise InvalidArgumentError(argument, "must be a number of seconds, not NaN")
        raise InvalidArgumentError(argument, f"must be between 0 and {MAX_TIMEOUT_SECONDS:.0e} seconds, "
                                             f"not {value!r}")
    return seconds


def wait_seconds(value: object, argument: str = "timeout_seconds") -> float:
    """A :func:`timeout` of the waits DBOS has (``sleep``, ``recv``, ``get_event``), where a negative number
    counts as 0, as DBOS takes it (a deadline already past: no wait).

    Raises:
        ArgumentTypeError, InvalidArgumentError: as :func:`timeout`, but for a finite negative number.
    """
    if type(value) in (int, float) and -MAX_TIMEOUT_SECONDS <= value < 0:  # type: ignore[operator]
        return 0.0
    return timeout(value, argument)


def no_wait(value: object) -> bool:
    """Whether ``value`` is a wait of no time, a finite number up to 0 (``DBOS.sleep`` then does nothing)."""
    return type(value) in (int, float) and -MAX_TIMEOUT_SECONDS <= value <= 0  # type: ignore[operator]


def optional_timeout(value: object, argument: str = "timeout_seconds") -> float | None:
    """Like :func:`timeout`, but ``None`` (no limit) passes.

    Raises:
        ArgumentTypeError: as :func:`timeout`.
        InvalidArgumentError: as :func:`timeout`.
    """
    return None if value is None else timeout(value, argument)


def count(value: object, argument: str, *, minimum: int = 0) -> int:
    """An offset, limit or step number: an ``int`` from ``minimum`` to :data:`MAX_INT`.

    Raises:
        ArgumentTypeError: it is not an ``int`` (``bool`` is refused).
        InvalidArgumentError: it is out of range.
    """
    if not isinstance(value, int) or type(value) is bool:
        raise ArgumentTypeError(argument, f"must be an int, not {type(value).__name__}")
    if not minimum <= value <= MAX_INT:
        shown = value if value.bit_length() < 100 else f"a number of {value.bit_length()} bits"
        raise InvalidArgumentError(argument, f"must be between {minimum} and 2**63 - 1, not {shown}")
    return int(value)


def optional_count(value: object, argument: str, *, minimum: int = 0) -> int | None:
    """Like :func:`count`, but ``None`` passes.

    Raises:
        ArgumentTypeError: as :func:`count`.
        InvalidArgumentError: as :func:`count`.
    """
    return None if value is None else count(value, argument, minimum=minimum)
