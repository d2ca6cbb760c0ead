"""``DBOS.logger``: the ``tether`` logger, with a console handler at the configured level and the ID of the
workflow (and step) that logged on every record.

Each record gets ``workflow_id`` (``""`` outside a workflow) and, under DBOS's attribute name, ``operationUUID``
when inside one, so a handler or formatter written for DBOS finds the ID where it looks. Inside a step it also
gets ``step_id`` (the step's number in its workflow), ``step_name`` and ``attempt`` (from 1; ``None`` outside
steps); with ``enable_otlp``, ``traceId`` (as DBOS names it) while a span is current, and ``otlp_attributes``.
"""

from __future__ import annotations

import logging

from tether.engine import tracing
from tether.engine.context import current_step, current_workflow

LOGGER_NAME = "tether"
_HANDLER_NAME = "tether-console"
_FORMAT = "%(asctime)s [%(levelname)8s] (%(name)s) %(workflow_tag)s%(message)s"

logger = logging.getLogger(LOGGER_NAME)


class WorkflowContextFilter(logging.Filter):
    """Stamps the current workflow ID (and step number) on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_workflow()
        step = current_step()
        record.workflow_id = ctx.workflow_id if ctx is not None else ""
        if step is not None:
            record.step_id, record.step_name, record.attempt = step.function_id, step.name, step.attempt
        else:
            record.step_id = record.step_name = record.attempt = None
        if ctx is not None:
            record.operationUUID = ctx.workflow_id
            where = ctx.workflow_id if step is None else \
                f"{ctx.workflow_id} step {step.function_id} {step.name} attempt {step.attempt}"
            record.workflow_tag = f"[{where}] "
        else:
            record.workflow_tag = ""
        if tracing.enabled():
            tracing.stamp(record)
        return True


def configure_logger(log_level: str, console_log_level: str | None = None) -> logging.Logger:
    """Give the ``tether`` logger its level and, once, a console handler that shows each record's workflow.

    The filter sits on the logger, so handlers an application adds see ``workflow_id`` too. The logger does not
    propagate to the root logger once it has its own handler (as DBOS's does), so nothing prints twice.
    """
    logger.setLevel(log_level)
    if not any(isinstance(f, WorkflowContextFilter) for f in logger.filters):
        logger.addFilter(WorkflowContextFilter())
    handler = next((h for h in logger.handlers if h.name == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.name = _HANDLER_NAME
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler.addFilter(WorkflowContextFilter())  # records of child loggers (tether.http) skip the logger's
        logger.addHandler(handler)
        logger.propagate = False
    handler.setLevel(console_log_level or logging.NOTSET)
    return logger
