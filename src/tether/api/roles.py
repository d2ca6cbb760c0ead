"""Role-based security on ``DBOS``: the identity code acts for (``DBOSContextSetAuth``, ``DBOS.set_authentication``,
``DBOS.authenticated_user`` and friends) and the roles a function requires (``@DBOS.required_roles``,
``@DBOS.default_required_roles``). The rules are in :mod:`tether.engine.auth`.

Typical use: an HTTP middleware authenticates the request and runs the handler inside
``with DBOSContextSetAuth(user, roles):``; workflows started there record that identity, and a workflow or
step that requires a role the user does not hold raises ``DBOSNotAuthorizedError``.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from tether.api.context_info import _ClassProperty
from tether.engine import auth
from tether.engine.registry import CLASS_NAME_ATTR, register_class

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class DBOSContextSetAuth:
    """Run the block as ``user`` holding ``roles``: the workflows it starts or enqueues record that identity
    (and run as it wherever they run later), and the functions it calls check their required roles against
    ``roles``. Blocks nest; inside a workflow only the block opened by the workflow's own code applies.

    Raises:
        ArgumentTypeError: ``user`` is not a string (or None), or ``roles`` not a list of strings (or None).
        InvalidArgumentError: the user or a role contains NUL or a lone surrogate, or is too long to store.
    """

    def __init__(self, user: str | None, roles: list[str] | None) -> None:
        self.user = auth.check_user(user)
        self.roles = auth.check_roles(roles)
        self._token: contextvars.Token[Any] | None = None

    def __enter__(self) -> DBOSContextSetAuth:
        self._token = auth.open_scope(self.user, self.roles)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            auth.close_scope(self._token)
            self._token = None

    async def __aenter__(self) -> DBOSContextSetAuth:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


class DBOSContextEnsure:
    """Accepted as DBOS has it, and does nothing: DBOS makes a context object for the calling code here,
    while Tether keeps what a context holds in context variables, present everywhere."""

    def __enter__(self) -> DBOSContextEnsure:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None


def _function_name(func: Callable[..., Any]) -> str:
    return str(getattr(func, "dbos_function_name", None) or getattr(func, "__qualname__", func))


def required_roles(roles: list[str]) -> Callable[[F], F]:
    """See :meth:`Authorization.required_roles`."""
    checked = auth.check_roles(roles, "roles") or []

    def decorate(func: F) -> F:
        guard = auth.guard_of(func)
        guard.require(checked)
        name = _function_name(func)
        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with auth.assume(auth.check_call(guard, name)):
                    return await func(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with auth.assume(auth.check_call(guard, name)):
                return func(*args, **kwargs)

        return cast(F, run)

    return decorate


def default_required_roles(roles: list[str]) -> Callable[[type[T]], type[T]]:
    """See :meth:`Authorization.default_required_roles`."""
    checked = auth.check_roles(roles, "roles") or []

    def decorate(cls: type[T]) -> type[T]:
        if CLASS_NAME_ATTR not in vars(cls):  # not registered itself (a base class may be)
            register_class(cls, None)
        for member in vars(cls).values():
            guard = getattr(getattr(member, "__func__", member), auth.ROLES_ATTR, None)
            if isinstance(guard, auth.RoleGuard):
                guard.require(class_default=checked)
        return cls

    return decorate


class Authorization:
    """Mixin of ``DBOS``."""

    @staticmethod
    def required_roles(roles: list[str]) -> Callable[[F], F]:
        """Require one of ``roles`` to call the function (a workflow, a step, or any function), above or below
        its ``@DBOS.workflow()``/``@DBOS.step()``. The call runs with the first of them that the caller
        holds assumed (``DBOS.assumed_role``); an empty list requires nothing. A workflow is checked again
        each time it runs, against the identity recorded with it.

        Raises:
            ArgumentTypeError: ``roles`` is not a list of strings. InvalidArgumentError: a role contains NUL or
                a lone surrogate, or is too long. Calls of the decorated function raise ``DBOSNotAuthorizedError``
                when the caller holds none of the roles (or is not authenticated).
        """
        return required_roles(roles)

    @staticmethod
    def default_required_roles(roles: list[str]) -> Callable[[type[T]], type[T]]:
        """Require one of ``roles`` for every workflow and step of the decorated class that does not name
        its own with ``@DBOS.required_roles``. Registers the class as ``@DBOS.dbos_class()`` does, if it is
        not registered yet.

        Raises:
            ArgumentTypeError: ``roles`` is not a list of strings.
            InvalidArgumentError: a role contains NUL or a lone surrogate, or is too long.
        """
        return default_required_roles(roles)

    @_ClassProperty
    def authenticated_user(cls) -> str | None:
        """The user the running code acts for, or None."""
        return auth.current_identity().user

    @_ClassProperty
    def authenticated_roles(cls) -> list[str] | None:
        """The roles granted to that user, or None."""
        return auth.current_identity().roles

    @_ClassProperty
    def assumed_role(cls) -> str | None:
        """The role the running workflow or step assumed to pass its role check, or None."""
        return auth.current_identity().assumed_role

    @classmethod
    def set_authentication(cls, authenticated_user: str | None, authenticated_roles: list[str] | None) -> None:
        """Change the identity the running code acts for: that of the enclosing ``DBOSContextSetAuth`` block
        opened by this code, else the running workflow's (for what it calls and starts from now on), else
        this thread's or task's from now on.

        Raises:
            ArgumentTypeError: a user that is not a string, or roles that are not a list of strings.
            InvalidArgumentError: the user or a role contains NUL or a lone surrogate, or is too long to store.
        """
        auth.set_authentication(authenticated_user, authenticated_roles)
