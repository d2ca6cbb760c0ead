"""The OpenAPI pages (Swagger UI at ``/docs``, ReDoc at ``/redoc``) served without a CDN.

FastAPI's own pages load Swagger UI and ReDoc from jsDelivr (and ReDoc's fonts from Google), so they are blank
without internet. Here the same pages load the files of the ``fastapi-offline`` package (a dependency of the
``http`` extra: Swagger UI's bundle and CSS, ReDoc's standalone bundle, a favicon), served by the app itself
under ``/docs-assets/``; no page asks anything of another host.

    app = FastAPI(docs_url=None, redoc_url=None)
    add_offline_docs(app)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_PATH = "/docs-assets"
OFFLINE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:")
"""The pages' Content-Security-Policy: the browser fetches nothing from another host (ReDoc's bundle names
a logo on Redocly's CDN; this keeps it from being asked for)."""
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
"""The pages this module adds (public: they hold no data, and fetch only ``/openapi.json``)."""


def assets_directory() -> Path:
    """Where the installed ``fastapi-offline`` package keeps Swagger UI's and ReDoc's files.

    Raises:
        ImportError: ``fastapi-offline`` is not installed (``pip install 'tether[http]'`` installs it).
    """
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def docs_app_options() -> dict[str, Any]:
    """``FastAPI(...)`` keyword arguments that turn off FastAPI's CDN-loading pages (this module adds its own)."""
    return {"docs_url": None, "redoc_url": None}


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect``, ``/redoc`` and their files (``/docs-assets/...``) on
    ``app``, which must have been built with :func:`docs_app_options`. Links follow the app's mount point.

    Raises:
        ImportError: ``fastapi-offline`` is not installed.
    """
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_directory()), name="tether-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        base = root(request)
        return _offline(get_swagger_ui_html(
            openapi_url=base + openapi_url, title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=base + "/docs/oauth2-redirect",
            swagger_js_url=f"{base}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS_PATH}/favicon.png",
            # no validator badge: it would send the schema's URL to validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})}))

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return _offline(get_redoc_html(openapi_url=base + openapi_url, title=f"{app.title} - ReDoc",
                                       redoc_js_url=f"{base}{ASSETS_PATH}/redoc.standalone.js",
                                       redoc_favicon_url=f"{base}{ASSETS_PATH}/favicon.png",
                                       with_google_fonts=False))


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = OFFLINE_CSP
    return page
