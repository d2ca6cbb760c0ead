"""How the methods shared by ``DBOS`` (class-level) and ``DBOSClient`` (instance-level) find their runtime."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

from tether.engine.runtime import Runtime
from tether.errors import NotLaunchedError

P = ParamSpec("P")
R = TypeVar("R")
StrOrList = str | list[str] | None


class _either(Generic[P, R]):
    """A method bound to the instance when called on one, else to the class (``DBOS.x()`` and
    ``client.x()`` share one definition)."""

    def __init__(self, func: Callable[Concatenate[Any, P], R]) -> None:
        self.func = func
        self.__doc__ = func.__doc__

    def __get__(self, obj: Any, owner: type[Any] | None = None) -> Callable[P, R]:
        return cast(Callable[P, R], types.MethodType(self.func, owner if obj is None else obj))


def _runtime_of(target: Any) -> Runtime:
    """The runtime behind ``DBOS`` (``_runtime``) or a ``DBOSClient`` (``_rt``).

    Raises:
        NotLaunchedError: DBOS is not launched (or the client was destroyed).
    """
    for attr in ("_runtime", "_rt"):
        rt = getattr(target, attr, None)
        if isinstance(rt, Runtime):
            if rt.destroyed:
                break
            return rt
    raise NotLaunchedError("DBOS is not launched: call DBOS(config=...) and DBOS.launch() first")


def _as_list(value: StrOrList) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _application_of(target: Any) -> str | None:
    """The application ``DBOS`` (its config's ``name``) or a ``DBOSClient`` (its ``application_name``, None
    when it acts for no application) acts for: what it owns by default, and what it lists by default.

    Raises:
        NotLaunchedError: DBOS is not launched.
    """
    if "_application_name" in getattr(target, "__dict__", {}):  # a DBOSClient
        return cast(str | None, target._application_name)
    return _runtime_of(target).settings.name
