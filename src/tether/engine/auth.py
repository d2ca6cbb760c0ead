"""Who the code acts for, and what a function requires of them (role-based security, as in DBOS).

An *identity* is an authenticated user, the roles granted to them, and the role they assumed. The code running
now acts for the identity of the innermost ``DBOSContextSetAuth`` block (or ``DBOS.set_authentication``) that
this same code opened; inside a workflow without such a block, for the identity the workflow was started under.
A start records that identity with the workflow (user, granted roles, assumed role), so a workflow recovered,
dequeued or resumed in any process runs as the same user, and its children inherit it.

A function may *require* roles (``@DBOS.required_roles``, or ``@DBOS.default_required_roles`` on its class for
every workflow and step of it that names none of its own). A call is allowed when the identity holds at least
one of them, and the function then runs with the first such role assumed; otherwise the call raises
:class:`DBOSNotAuthorizedError`. A workflow is checked when it is called directly (before anything is written)
and each time it runs, against the identity recorded with it: a workflow whose recorded identity is refused
ends in ERROR with that error (it never succeeds on a later attempt either), rather than staying PENDING.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tether.engine import validation
from tether.engine.context import WorkflowContext, current_workflow
from tether.errors import ArgumentTypeError, DBOSNotAuthorizedError

ROLES_ATTR = "__tether_roles__"
"""The attribute holding a function's :class:`RoleGuard`, shared by every decorator layer around it."""


class RoleGuard:
    """The roles one function requires: its own (``required_roles``), else its class's default. Mutable and
    shared by every wrapper of the function, since the decorators may be stacked in either order."""

    __slots__ = ("active", "class_default", "roles")

    def __init__(self) -> None:
        self.roles: list[str] | None = None
        self.class_default: list[str] | None = None
        self.active = False  # whether any role is required: the one test made on every call

    def require(self, roles: list[str] | None = None, *, class_default: list[str] | None = None) -> None:
        if roles is not None:
            self.roles = roles
        if class_default is not None:
            self.class_default = class_default
        self.active = bool(self.required())

    def required(self) -> list[str] | None:
        return self.roles if self.roles is not None else self.class_default


def guard_of(func: Callable[..., Any]) -> RoleGuard:
    """The guard of ``func``, made (and attached to it) on first use."""
    guard = getattr(func, ROLES_ATTR, None)
    if isinstance(guard, RoleGuard):
        return guard
    guard = RoleGuard()
    setattr(func, ROLES_ATTR, guard)
    return guard


@dataclass(frozen=True)
class Identity:
    user: str | None = None
    roles: list[str] | None = None
    assumed_role: str | None = None


@dataclass
class _Scope:
    """One ``DBOSContextSetAuth`` block's identity, honoured only by the code of the workflow it was opened in
    (None: outside workflows); a workflow run inline by that code acts for the identity recorded with it."""

    workflow_id: str | None
    user: str | None
    roles: list[str] | None


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("tether_auth_scope", default=None)
# The role assumed by a role-checked call in progress, with the workflow whose code made the call.
_assumed: contextvars.ContextVar[tuple[str | None, str] | None] = contextvars.ContextVar(
    "tether_assumed_role", default=None)


def _where() -> tuple[WorkflowContext | None, str | None]:
    wf = current_workflow()
    return wf, (wf.workflow_id if wf is not None else None)


def current_identity() -> Identity:
    """The identity the code running now acts for (all None when nobody authenticated it)."""
    wf, wfid = _where()
    scope = _scope.get()
    if scope is not None and scope.workflow_id == wfid:
        user, roles = scope.user, scope.roles
    elif wf is not None:
        user, roles = wf.authenticated_user, wf.authenticated_roles
    else:
        user, roles = None, None
    assumed = _assumed.get()
    if assumed is not None and assumed[0] == wfid:
        role: str | None = assumed[1]
    else:
        role = wf.assumed_role if wf is not None else None
    return Identity(user, roles, role)


def check_user(user: object) -> str | None:
    """Raises:
        ArgumentTypeError: ``user`` is neither a string nor None.
        InvalidArgumentError: it is too long, or contains NUL or a lone surrogate (it could not be stored)."""
    if user is not None and not isinstance(user, str):
        raise ArgumentTypeError("authenticated_user", f"must be a string or None, not {type(user).__name__}")
    return validation.optional_text(user, "authenticated_user", empty=True)


def check_roles(roles: object, what: str = "authenticated_roles") -> list[str] | None:
    """A copy of ``roles`` as a list of strings.

    Raises:
        ArgumentTypeError: ``roles`` is not a list (or tuple) of strings, nor None.
        InvalidArgumentError: a role is too long, or contains NUL or a lone surrogate.
    """
    if roles is None:
        return None
    if isinstance(roles, str) or not isinstance(roles, Sequence) or \
            not all(isinstance(r, str) for r in roles):
        raise ArgumentTypeError(what, f"must be a list of strings or None, not {roles!r:.80}")
    return [validation.text(r, what, empty=True) for r in roles]


def open_scope(user: str | None, roles: list[str] | None) -> contextvars.Token[_Scope | None]:
    """Enter a ``DBOSContextSetAuth`` block (checked by the caller)."""
    return _scope.set(_Scope(_where()[1], user, roles))


def close_scope(token: contextvars.Token[_Scope | None]) -> None:
    try:
        _scope.reset(token)
    except ValueError:  # left in a copy of the context it was entered in (as engine.context.leave_step)
        _scope.set(None if token.old_value is contextvars.Token.MISSING else token.old_value)


def set_authentication(user: str | None, roles: list[str] | None) -> None:
    """Change the identity of the innermost scope: the ``DBOSContextSetAuth`` block this code opened, else the
    running workflow (its steps and the workflows it starts from now on), else this thread or task from now on.

    Raises:
        ArgumentTypeError: a user that is not a string, or roles that are not a list of strings.
        InvalidArgumentError: the user or a role contains NUL or a lone surrogate, or is too long to store.
    """
    user, roles = check_user(user), check_roles(roles)
    wf, wfid = _where()
    scope = _scope.get()
    if scope is not None and scope.workflow_id == wfid:
        scope.user, scope.roles = user, roles
    elif wf is not None:
        wf.authenticated_user, wf.authenticated_roles = user, roles
    else:
        _scope.set(_Scope(None, user, roles))


def granted_role(guard: RoleGuard, name: str, roles: list[str] | None) -> str | None:
    """The role a call of the function ``name`` runs with when the caller holds ``roles``; None when the
    function requires none.

    Raises:
        DBOSNotAuthorizedError: the function requires roles and ``roles`` holds none of them (or is None).
    """
    required = guard.required()
    if not required:
        return None
    if roles is None:
        raise DBOSNotAuthorizedError(
            f"Function {name} requires a role, but was called in a context without authentication information")
    for role in required:
        if role in roles:
            return role
    raise DBOSNotAuthorizedError(
        f"Function {name} has required roles, but user is not authenticated for any of them")


def check_call(guard: RoleGuard, name: str) -> str | None:
    """:func:`granted_role` for the identity the running code acts for.

    Raises:
        DBOSNotAuthorizedError: as :func:`granted_role`.
    """
    return granted_role(guard, name, current_identity().roles)


@contextmanager
def assume(role: str | None) -> Iterator[None]:
    """Run the block with ``role`` assumed (nothing changes for None)."""
    if role is None:
        yield
        return
    token = _assumed.set((_where()[1], role))
    try:
        yield
    finally:
        try:
            _assumed.reset(token)
        except ValueError:  # resumed in a copy of the context (see close_scope)
            _assumed.set(None if token.old_value is contextvars.Token.MISSING else token.old_value)


def encode_roles(roles: list[str] | None) -> str | None:
    """The stored form of granted roles: a JSON list, or None for none (an empty list too, as DBOS stores it)."""
    return json.dumps(roles) if roles else None


def decode_roles(stored: str | None) -> list[str] | None:
    """The granted roles of a stored row; None for none or for a value that is not a list of strings."""
    if not stored:
        return None
    try:
        roles = json.loads(stored)
    except ValueError:
        return None
    if isinstance(roles, list) and all(isinstance(r, str) for r in roles):
        return roles
    return None
