"""OpenTelemetry on the API: ``DBOS.tracer``, ``DBOS.span`` and ``PropagateOtelContext`` (see
:mod:`tether.engine.tracing` and docs/observability.md)."""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import Any

from tether.api.context_info import _ClassProperty
from tether.engine import tracing


class TracingAPI:
    """Mixin of ``DBOS``."""

    @_ClassProperty
    def tracer(cls) -> tracing.Tracer:
        """DBOS's tracer object: ``start_span(attributes, parent=None)``, ``end_span(span)``,
        ``get_current_span()``, ``otlp_attributes``, ``disable_otlp``."""
        return tracing.tracer

    @_ClassProperty
    def span(cls) -> Any:
        """The current OpenTelemetry span (in a workflow or step with ``enable_otlp``: its span), or None when
        no valid span is current or OpenTelemetry is not installed."""
        return tracing.current_span()


class PropagateOtelContext:
    """Workflows started or enqueued in this block (by the code that opened it) join the trace of ``context``
    (an OpenTelemetry ``Context``; default: the current one) instead of the current span's. Only the W3C trace
    context travels, never baggage. Tether already stores the current span's context with every start; this
    block is for naming another one.

        with PropagateOtelContext(some_context):
            queue.enqueue(process, order)
    """

    def __init__(self, context: Any = None) -> None:
        self.context = context
        self._token: contextvars.Token[tuple[str | None, str | None] | None] | None = None

    def __enter__(self) -> PropagateOtelContext:
        carrier = tracing.inject(self.context)
        # No valid context to propagate: leave the starts to the current span, as DBOS writes nothing then.
        if carrier is not None:
            self._token = tracing.set_explicit(carrier)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            tracing.reset_explicit(self._token)
            self._token = None
