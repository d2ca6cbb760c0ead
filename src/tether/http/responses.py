"""The gateway's JSON response class."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from tether.http.encoding import dumps


class TetherJSONResponse(JSONResponse):
    """JSON responses written with :func:`tether.http.encoding.dumps` (no NaN); content must be plain JSON data."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()
