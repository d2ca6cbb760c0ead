"""Errors as HTTP answers: every failure a client can cause is a 4xx with a JSON body, never a 500.

Body shape: ``{"error": "<code>", "detail": "<human readable>"}`` (validation errors add ``"errors"``).

    WorkflowNotFoundError / NonExistentWorkflowError  404 workflow_not_found
    ConflictingWorkflowError                          409 conflicting_workflow
    QueueDeduplicatedError                            409 deduplicated
    ScheduleNotFoundError                             404 schedule_not_found
    ScheduleExistsError                               409 schedule_exists
    NotJSONError (stored value without JSON form)     406 not_json
    SerializationError                                422 serialization
    request validation (FastAPI)                      422 invalid_request
    InvalidArgumentError / ArgumentTypeError          400 invalid_argument (a NUL in an ID, a key too long...)
    ValueError / TypeError                            400 bad_request
    a body that cannot be parsed (not UTF-8...)       400 bad_request
    no such route / method                            404 not_found / 405 method_not_allowed
    no token, or an unknown one                       401 unauthorized
    a token without the scope, or outside its prefix  403 forbidden
    Host not allowed / cross-site Origin              400 host_not_allowed / 403 origin_not_allowed
    request body over the limit                       413 body_too_large
    TimeoutError (result not ready in time)           408 timeout
    NotLaunchedError / StorageError                   503 unavailable
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tether.errors import (
    ArgumentTypeError,
    ConflictingWorkflowError,
    InvalidArgumentError,
    NotLaunchedError,
    QueueDeduplicatedError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    SerializationError,
    StorageError,
    WorkflowNotFoundError,
)
from tether.http.encoding import NotJSONError, to_json_or_marker
from tether.http.responses import TetherJSONResponse

logger = logging.getLogger("tether.http")


class ApiError(Exception):
    """An HTTP error answer raised by a handler: ``status``, machine-readable ``code``, ``detail``."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


# Most specific first: SerializationError is a TypeError, NonExistentWorkflowError a WorkflowNotFoundError.
_MAPPING: list[tuple[type[Exception], int, str]] = [
    (WorkflowNotFoundError, 404, "workflow_not_found"),
    (ScheduleNotFoundError, 404, "schedule_not_found"),
    (ScheduleExistsError, 409, "schedule_exists"),
    (ConflictingWorkflowError, 409, "conflicting_workflow"),
    (QueueDeduplicatedError, 409, "deduplicated"),
    (NotJSONError, 406, "not_json"),
    (SerializationError, 422, "serialization"),
    (TimeoutError, 408, "timeout"),
    (NotLaunchedError, 503, "unavailable"),
    (StorageError, 503, "unavailable"),
    (InvalidArgumentError, 400, "invalid_argument"),
    (ArgumentTypeError, 400, "invalid_argument"),
    (ValueError, 400, "bad_request"),
    (TypeError, 400, "bad_request"),
]


def classify(exc: BaseException) -> tuple[int, str] | None:
    """The (status, code) an exception maps to, or None when it is a server fault."""
    for kind, status, code in _MAPPING:
        if isinstance(exc, kind):
            return status, code
    return None


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> Response:
    return TetherJSONResponse({"error": code, "detail": detail, **extra}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer Tether errors, validation failures and HTTP errors with JSON bodies."""

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return error_response(422, "invalid_request", f"{where}: {first['msg']}",
                              errors=to_json_or_marker(errors))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed"}  # 400: FastAPI's for a body it cannot parse
        code = codes.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    async def on_exception(request: Request, exc: Exception) -> Response:
        mapped = classify(exc)
        if mapped is None:
            logger.exception("Unhandled error in %s %s", request.method, request.url.path)
            return error_response(500, "internal", f"{type(exc).__name__}: {exc}")
        return error_response(mapped[0], mapped[1], str(exc))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for kind, _, _ in _MAPPING:
        app.add_exception_handler(kind, on_exception)
    app.add_exception_handler(Exception, on_exception)
