"""Optional bearer-token authentication for the gateway.

With a token configured every route requires ``Authorization: Bearer <token>``. Browsers' ``EventSource`` cannot
set headers, so stream routes also accept ``?access_token=<token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tether.http.errors import ApiError

bearer_scheme = HTTPBearer(auto_error=False, description="The token given to `tether serve --token`.")


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def require_token(token: str | None) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[None]]:
    """A FastAPI dependency that enforces ``token`` (and does nothing when it is None)."""

    async def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
                    ) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else None
        if given is None and "/streams/" in request.url.path:
            given = request.query_params.get("access_token")
        if not _matches(given, token):
            raise ApiError(401, "unauthorized", "A valid bearer token is required",
                           headers={"WWW-Authenticate": "Bearer"})

    return check
