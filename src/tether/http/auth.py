"""The gateway's authorization: each route needs a scope, and a token limited to a prefix reaches only the
workflows under it. Tokens themselves (their format, parsing) are in :mod:`tether.http.tokens`; checking that a
request carries one (401) happens in :mod:`tether.http.guard`, before the body is read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tether.http.errors import ApiError
from tether.http.tokens import STATE_KEY, Token

bearer_scheme = HTTPBearer(auto_error=False, description="A token given to `tether serve --token` "
                                                         "(read, send or admin, maybe for an ID prefix).")


def granted(request: Request) -> Token | None:
    """The token the request was authenticated with; None when the gateway runs without tokens."""
    state = request.scope.get("state") or {}
    token = state.get(STATE_KEY)
    return token if isinstance(token, Token) else None


def require_scope(scope: str) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[None]]:
    """A FastAPI dependency: the request's token must grant ``scope`` and cover the route's ``workflow_id``.
    (Authentication itself, 401 for a missing or unknown token, happened in :mod:`tether.http.guard`.)"""

    async def check(request: Request,
                    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> None:
        token = granted(request)
        if token is None:
            return
        if not token.allows(scope):
            raise ApiError(403, "forbidden", f"Token {token.name!r} may not {scope}")
        workflow_id = request.path_params.get("workflow_id")
        if workflow_id is not None:
            check_covers(token, workflow_id)

    return check


def check_covers(token: Token | None, workflow_id: str) -> None:
    """Raise 403 unless ``token`` (None: no tokens configured) may touch ``workflow_id``.

    Raises:
        ApiError: 403, the ID is outside the token's prefix.
    """
    if token is not None and not token.covers(workflow_id):
        raise ApiError(403, "forbidden", f"Token {token.name!r} is limited to workflow IDs starting with "
                                         f"{token.prefix!r}")


async def require_unrestricted(request: Request) -> None:
    """A FastAPI dependency for routes that belong to no workflow (schedules): a token limited to a prefix
    may not use them.

    Raises:
        ApiError: 403, the token is limited to a workflow-ID prefix.
    """
    token = granted(request)
    if token is not None and token.prefix is not None:
        raise ApiError(403, "forbidden", f"Token {token.name!r} is limited to workflow IDs starting with "
                                         f"{token.prefix!r}; schedules are not")
