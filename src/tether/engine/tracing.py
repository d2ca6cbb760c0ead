"""OpenTelemetry, in one module that does nothing when ``opentelemetry`` is not installed.

- **Spans.** In a process launched with ``enable_otlp``, every workflow execution and every step gets a span,
  named and attributed as DBOS 3.4 does it (the workflow's or step's name; ``operationUUID``,
  ``operationType``, ``applicationID``, ``applicationVersion``, ``executorID``, ``queueName``,
  ``authenticatedUser``, or their ``dbos.*`` names under ``otel_attribute_format="semconv"``; plus
  ``otlp_attributes``). A step's failed attempts are events on its span (``Step attempt N failed``, as in DBOS);
  send, recv, set_event, get_event and stream writes are events on the span of the workflow (or step) that made
  them. Spans go to the global ``TracerProvider``, used as it is; OTLP endpoints add an exporter to it.
- **Propagation.** A start stores the W3C trace context of the code that started it with the workflow
  (``trace_context``, a JSON object of ``traceparent``/``tracestate``): a parent workflow's span, a web
  request's, a ``DBOSClient`` caller's. The process that runs the workflow, now or after a queue or a crash,
  parents the workflow's span to it, so one trace follows the work across processes.
- **Cost.** Without ``enable_otlp`` every hook returns after reading one module global. Nothing here imports
  ``opentelemetry`` unless ``enable_otlp`` is set or the application imported it: a start reads the current
  trace context only when ``opentelemetry.trace`` is already loaded.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from tether.config import Settings, Telemetry
from tether.engine.context import current_workflow
from tether.errors import ConfigError

logger = logging.getLogger("tether")

_ENABLED = False
"""Spans are made: this process was launched with ``enable_otlp`` (and OpenTelemetry imports)."""

# DBOS 3.4's attribute names (``legacy``) and their ``semconv`` forms; Tether's own follow the same pattern.
SEMCONV_NAMES: dict[str, str] = {
    "operationUUID": "dbos.operation.workflow_id",
    "operationType": "dbos.operation.type",
    "applicationID": "dbos.application.id",
    "applicationVersion": "dbos.application.version",
    "executorID": "dbos.executor.id",
    "queueName": "dbos.queue.name",
    "authenticatedUser": "dbos.user.name",
    "authenticatedUserRoles": "dbos.user.roles",
    "authenticatedUserAssumedRole": "dbos.user.assumed_role",
    "stepID": "dbos.step.id",
}

INSTALL_HINT = "pip install 'tether[otel]'"


class _State:
    tracer: Any = None
    names: Mapping[str, str] = {}
    common: dict[str, Any] = {}  # applicationID, applicationVersion, executorID (already renamed)
    extra: tuple[tuple[str, str], ...] = ()
    telemetry: Telemetry = Telemetry()


_state = _State()
_exporting: set[tuple[int, str]] = set()  # (provider, endpoint) pairs given an exporter in this process
_TRACE: Any = None  # the opentelemetry.trace module once imported; False when it cannot be


def _trace_api() -> Any:
    """``opentelemetry.trace``, imported on first use; None when OpenTelemetry is not installed."""
    global _TRACE
    if _TRACE is None:
        try:
            from opentelemetry import trace
            _TRACE = trace
        except ImportError:
            _TRACE = False
    return _TRACE or None


def available() -> bool:
    """Whether ``opentelemetry`` (the API) can be imported here."""
    return _trace_api() is not None


def enabled() -> bool:
    return _ENABLED


# -- configuration ---------------------------------------------------------------------------------------
def check(settings: Settings) -> None:
    """Check that what the config asks for can be done, before anything is written.

    Raises:
        ConfigError: ``enable_otlp`` without OpenTelemetry installed, or OTLP endpoints without the OTLP/HTTP
            exporter package (``opentelemetry-exporter-otlp-proto-http``); both come with ``tether[otel]``.
    """
    t = settings.telemetry
    if not t.enable_otlp:
        return
    if not available():
        raise ConfigError(f"enable_otlp needs OpenTelemetry, which is not installed: {INSTALL_HINT}")
    for endpoints, module in ((t.traces_endpoints, "opentelemetry.exporter.otlp.proto.http.trace_exporter"),
                              (t.logs_endpoints, "opentelemetry.exporter.otlp.proto.http._log_exporter")):
        if endpoints:
            try:
                __import__(module)
            except ImportError as exc:
                raise ConfigError(f"OTLP endpoints are configured but the OTLP exporter cannot be imported "
                                  f"({exc}): {INSTALL_HINT}") from None


def configure(settings: Settings, application_version: str) -> None:
    """Turn spans on (or off) for this process, as its config says; called by ``DBOS.launch``.

    Raises:
        ConfigError: as :func:`check`.
    """
    global _ENABLED
    t = settings.telemetry
    if not t.enable_otlp:
        _ENABLED = False
        return
    check(settings)
    trace = _trace_api()
    _state.telemetry = t
    _state.names = SEMCONV_NAMES if t.attribute_format == "semconv" else {}
    _state.extra = t.attributes
    _state.common = _named({"applicationID": os.environ.get("DBOS__APPID"),
                            "applicationVersion": application_version, "executorID": settings.executor_id})
    if t.traces_endpoints:
        _export_traces(settings.name, t.traces_endpoints)
    _export_logs(settings.name, t)
    if not hasattr(trace.get_tracer_provider(), "add_span_processor"):
        logger.warning("enable_otlp is set but no OpenTelemetry TracerProvider is configured and no "
                       "otlp_traces_endpoints are given: spans are made but not recorded until a provider is set")
    _state.tracer = trace.get_tracer("tether")  # a proxy until a provider is set: it follows the provider
    _ENABLED = True


def shut_down() -> None:
    """Stop making spans and sending ``DBOS.logger`` to OpenTelemetry (``DBOS.destroy``); exporters added to a
    provider stay with it."""
    global _ENABLED
    _ENABLED = False
    tether_logger = logging.getLogger("tether")
    for handler in [h for h in tether_logger.handlers if h.name == _LOG_HANDLER]:
        tether_logger.removeHandler(handler)
        handler.flush()


_LOG_HANDLER = "tether-otlp"


def _export_traces(service_name: str, endpoints: tuple[str, ...]) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    trace = _trace_api()
    provider = trace.get_tracer_provider()
    if not hasattr(provider, "add_span_processor"):  # none set yet: one for this service, as DBOS does
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        trace.set_tracer_provider(provider)
    for endpoint in endpoints:
        if (id(provider), endpoint) not in _exporting:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
            _exporting.add((id(provider), endpoint))


def _export_logs(service_name: str, t: Telemetry) -> None:
    """Send ``DBOS.logger``'s records to the global ``LoggerProvider`` (as DBOS does when one is set), and with
    ``otlp_logs_endpoints`` to those endpoints (making a provider if none is set)."""
    from opentelemetry._logs import get_logger_provider, set_logger_provider

    provider = get_logger_provider()
    if t.logs_endpoints:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.resources import Resource

        if not hasattr(provider, "add_log_record_processor"):
            provider = LoggerProvider(resource=Resource.create({"service.name": service_name}))
            set_logger_provider(provider)
        for endpoint in t.logs_endpoints:
            if (id(provider), endpoint) not in _exporting:
                provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint)))
                _exporting.add((id(provider), endpoint))
    tether_logger = logging.getLogger("tether")
    if not hasattr(provider, "add_log_record_processor") or any(h.name == _LOG_HANDLER
                                                                for h in tether_logger.handlers):
        return
    from tether.engine.logs import WorkflowContextFilter  # here: logs imports this module

    handler = _logging_handler(provider)
    handler.name = _LOG_HANDLER
    handler.addFilter(WorkflowContextFilter())  # records of child loggers (tether.http) skip the logger's
    handler.setLevel(t.otlp_log_level or logging.NOTSET)
    tether_logger.addHandler(handler)


def _logging_handler(provider: Any) -> logging.Handler:
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:  # the SDK's own (deprecated there in favour of the one above)
        import warnings

        from opentelemetry.sdk._logs import LoggingHandler
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return LoggingHandler(logger_provider=provider)  # type: ignore[no-any-return]
    return LoggingHandler(logger_provider=provider)  # type: ignore[no-any-return]


def _named(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes under the configured names, without ``None`` and non-primitive values."""
    names = _state.names
    return {names.get(k, k): v for k, v in attributes.items()
            if v is not None and isinstance(v, (str, bool, int, float))}


# -- propagation -----------------------------------------------------------------------------------------
# A PropagateOtelContext block: (the workflow it was opened in, the carrier JSON for starts made there).
_explicit: contextvars.ContextVar[tuple[str | None, str | None] | None] = contextvars.ContextVar(
    "tether_trace_context", default=None)


def capture() -> str | None:
    """The trace context to store with a workflow started here: that of a ``PropagateOtelContext`` block
    opened by this code, else the current span's; None when there is none (or nobody imported OpenTelemetry).
    """
    explicit = _explicit.get()
    if explicit is not None:
        wf = current_workflow()
        if explicit[0] == (wf.workflow_id if wf is not None else None):
            return explicit[1]
    if "opentelemetry.trace" not in sys.modules:
        return None
    return inject(None)


def inject(context: Any) -> str | None:
    """The W3C trace context (``traceparent``, ``tracestate``; never baggage) of ``context`` (None: the
    current one) as stored JSON, or None when it has no valid span."""
    trace = _trace_api()
    if trace is None or not trace.get_current_span(context).get_span_context().is_valid:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=context)
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


def set_explicit(carrier: str | None) -> contextvars.Token[tuple[str | None, str | None] | None]:
    wf = current_workflow()
    return _explicit.set((wf.workflow_id if wf is not None else None, carrier))


def reset_explicit(token: contextvars.Token[tuple[str | None, str | None] | None]) -> None:
    _explicit.reset(token)


DBOS_CARRIER_ATTRIBUTE = "dbos.otelContext"


def stored_context(trace_context: str | None, attributes: str | None) -> str | None:
    """The trace context stored with a workflow: its ``trace_context``, else the carrier DBOS 3.4's
    ``PropagateOtelContext`` keeps in the workflow's attributes (a workflow enqueued by DBOS, in a database moved
    to Tether). Attributes are only parsed when they name that key."""
    if trace_context is not None or attributes is None or DBOS_CARRIER_ATTRIBUTE not in attributes:
        return trace_context
    try:
        carrier = json.loads(attributes).get(DBOS_CARRIER_ATTRIBUTE)
    except (ValueError, AttributeError):
        return None
    return json.dumps(carrier) if isinstance(carrier, dict) else None


def extract(carrier: str | None) -> Any:
    """The OpenTelemetry context a stored trace context stands for, or None (none stored, or unreadable:
    a bad value never stops a workflow)."""
    if not carrier:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    try:
        headers = json.loads(carrier)
        if not isinstance(headers, dict):
            return None
        context = TraceContextTextMapPropagator().extract({k: v for k, v in headers.items()
                                                           if isinstance(k, str) and isinstance(v, str)})
    except Exception:
        return None
    return context if _trace_api().get_current_span(context).get_span_context().is_valid else None


# -- spans -----------------------------------------------------------------------------------------------
class _NoSpan:
    """What the span helpers return when tracing is off: a context manager that does nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


NO_SPAN = _NoSpan()


class _Span:
    """A span made current for the duration of a ``with`` block; ended with the block's outcome."""

    __slots__ = ("attributes", "kind", "name", "parent", "span", "token", "tracer")

    def __init__(self, name: str, attributes: dict[str, Any], parent: Any, tracer: Any = None,
                 kind: Any = None) -> None:
        self.name = name
        self.attributes = attributes
        self.parent = parent
        self.tracer = tracer or _state.tracer
        self.kind = kind
        self.span: Any = None
        self.token: Any = None

    def __enter__(self) -> Any:
        from opentelemetry import context as otel_context

        kind = {} if self.kind is None else {"kind": self.kind}
        self.span = self.tracer.start_span(self.name, context=self.parent, attributes=self.attributes, **kind)
        self.token = otel_context.attach(_trace_api().set_span_in_context(self.span))
        return self.span

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        try:
            if exc is None:
                span.set_status(Status(StatusCode.OK))
            else:
                span.set_status(Status(StatusCode.ERROR, description=str(exc) or type(exc).__name__))
                span.record_exception(exc)
            span.end()
        finally:
            _detach(self.token)


def _detach(token: Any) -> None:
    var = getattr(token, "var", None)
    if var is None:  # not a contextvars token: a runtime context of another kind
        from opentelemetry import context as otel_context

        otel_context.detach(token)
        return
    try:
        var.reset(token)
    except ValueError:  # resumed in a copy of the context the span was entered in (as engine.context.leave_step)
        var.set(token.old_value)


def workflow_span(name: str, workflow_id: str, trace_context: str | None, queue_name: str | None = None,
                  authenticated_user: str | None = None, authenticated_roles: list[str] | None = None,
                  assumed_role: str | None = None) -> _Span | _NoSpan:
    """The span of one execution of a workflow, parented to its stored trace context (else the current one)."""
    if not _ENABLED:
        return NO_SPAN
    attributes = _named({"operationUUID": workflow_id, "operationType": "workflow", "queueName": queue_name,
                         "authenticatedUser": authenticated_user,
                         "authenticatedUserRoles": json.dumps(authenticated_roles)
                         if authenticated_roles is not None else None,
                         "authenticatedUserAssumedRole": assumed_role})
    attributes.update(_state.common)
    attributes.update(_state.extra)
    return _Span(name, attributes, extract(trace_context))


def step_span(name: str, workflow_id: str, function_id: int) -> _Span | _NoSpan:
    """The span of a step run (all its attempts), a child of the current span (its workflow's)."""
    if not _ENABLED:
        return NO_SPAN
    attributes = _named({"operationUUID": workflow_id, "operationType": "step", "stepID": function_id})
    attributes.update(_state.common)
    attributes.update(_state.extra)
    return _Span(name, attributes, None)


def request_span(method: str, path: str, headers: Mapping[str, str]) -> _Span | _NoSpan:
    """The span of an HTTP request to the gateway (kind SERVER), continuing the trace of its ``traceparent``
    header (through the global propagator), on the global ``TracerProvider`` whatever ``enable_otlp`` says: a
    gateway may serve a ``DBOSClient`` in a process without a DBOS config. None is made when OpenTelemetry is
    not installed, or when a span is already current (the application's own HTTP instrumentation made one)."""
    trace = _trace_api()
    if trace is None or trace.get_current_span().get_span_context().is_valid:
        return NO_SPAN
    from opentelemetry.propagate import extract as extract_headers

    return _Span(method, {"http.request.method": method, "url.path": path}, extract_headers(dict(headers)),
                 trace.get_tracer("tether"), trace.SpanKind.SERVER)


def attempt_failed(attempt: int, error: BaseException, retry_interval_seconds: float) -> None:
    """Note a failed attempt (counted from 1) of the current step, which will be tried again."""
    if _ENABLED:
        _trace_api().get_current_span().add_event(
            f"Step attempt {attempt - 1} failed",  # DBOS counts attempts from 0 here
            {"error": str(error), "retryIntervalSeconds": retry_interval_seconds})


def event(name: str, function_id: int | None, **attributes: str | int | None) -> None:
    """Note an operation (``DBOS.send``, ``DBOS.setEvent``, ...) on the current span of a workflow or step."""
    if _ENABLED:
        attributes["stepID"] = function_id
        _trace_api().get_current_span().add_event(name, _named(attributes))


def trace_id() -> str | None:
    """The current trace's ID (32 hex digits) while a span is current and tracing is on, else None."""
    if not _ENABLED:
        return None
    context = _trace_api().get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def stamp(record: logging.LogRecord) -> None:
    """Put DBOS's log attributes on a record: ``traceId`` while a span is current, and ``otlp_attributes``."""
    tid = trace_id()
    if tid is not None:
        record.traceId = tid
    for key, value in _state.extra:
        setattr(record, key, value)


def current_span() -> Any:
    """The current span if it is valid (``DBOS.span``), else None; None without OpenTelemetry."""
    trace = sys.modules.get("opentelemetry.trace") if not _ENABLED else _trace_api()
    if trace is None:
        return None
    span = trace.get_current_span()
    return span if span.get_span_context().is_valid else None


class Tracer:
    """``DBOS.tracer``: DBOS 3.4's tracer object, over the global ``TracerProvider``."""

    @property
    def disable_otlp(self) -> bool:
        return not _ENABLED

    @property
    def otlp_attributes(self) -> dict[str, str]:
        return dict(_state.extra)

    @property
    def otel_attribute_format(self) -> str:
        return "semconv" if _state.names else "legacy"

    @property
    def app_id(self) -> str | None:
        return os.environ.get("DBOS__APPID")

    def start_span(self, attributes: Mapping[str, Any], parent: Any = None) -> Any:
        """Start (and return, not make current) a span named ``attributes["name"]`` with the other
        attributes, under ``parent`` (else the current span).

        Raises:
            ConfigError: OpenTelemetry is not installed.
        """
        trace = _trace_api()
        if trace is None:
            raise ConfigError(f"DBOS.tracer needs OpenTelemetry, which is not installed: {INSTALL_HINT}")
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = trace.get_tracer("tether").start_span(name=str(attributes["name"]), context=context)
        named = _named({k: v for k, v in attributes.items() if k != "name"})
        named.update(_state.common)
        named.update(_state.extra)
        span.set_attributes(named)
        return span

    def end_span(self, span: Any) -> None:
        span.end()

    def get_current_span(self) -> Any:
        return current_span()


tracer = Tracer()
