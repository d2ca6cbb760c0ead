"""Tether over HTTP: the gateway (JSON + Server-Sent Events for any language) and the seed demo server.

Needs the ``http`` extra (``pip install 'tether[http]'``: FastAPI and uvicorn).

    from tether.http import create_gateway
    app.mount("/tether", create_gateway(DBOS))
"""

from tether.http.gateway import create_gateway
from tether.http.sse import StreamFanout

__all__ = ["StreamFanout", "create_gateway"]
