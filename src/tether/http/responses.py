"""The gateway's JSON response class."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from tether.http.encoding import dumps

JSONObject = dict[str, Any]
"""The ``response_model`` of routes that answer a :class:`TetherJSONResponse` themselves (for the schema):
FastAPI's own serialization of a returned dict stops at about 255 levels of nesting ('Circular reference
detected'), and stored values may be deeper."""


class TetherJSONResponse(JSONResponse):
    """JSON responses written with :func:`tether.http.encoding.dumps` (no NaN); content must be plain JSON data."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()
