"""Tether over HTTP: the gateway (JSON + Server-Sent Events for any language) and the demo server.

Needs the ``http`` extra (``pip install 'tether[http]'``: FastAPI and uvicorn).

    from tether.http import create_gateway
    app.mount("/tether", create_gateway(DBOS))

Names are imported lazily, so the FastAPI-free parts (``tether.http.encoding``, ``tether.http.sse_client``)
load without the extra installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tether.http.gateway import create_gateway
    from tether.http.sse import StreamFanout

__all__ = ["StreamFanout", "create_gateway"]


def __getattr__(name: str) -> Any:
    if name == "create_gateway":
        from tether.http.gateway import create_gateway

        return create_gateway
    if name == "StreamFanout":
        from tether.http.sse import StreamFanout

        return StreamFanout
    raise AttributeError(f"module 'tether.http' has no attribute {name!r}")
