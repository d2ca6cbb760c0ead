"""Workflow attributes: a JSON object attached to a workflow at its start (``SetWorkflowAttributes``) or later
(``update_workflow_attributes``), shown on its status and, on PostgreSQL, searchable with
``list_workflows(attributes=...)``."""

from __future__ import annotations

import json
from typing import Any

from tether.engine.runtime import Runtime
from tether.errors import TetherError, WorkflowNotFoundError


def encode_attributes(attributes: dict[str, Any] | None) -> str | None:
    """Attributes as stored (JSON text), checked before anything is written.

    Raises:
        TetherError: not a dict (or None), or not JSON-serializable.
    """
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise TetherError(f"Invalid workflow attributes {attributes}. Attributes must be a dict.")
    try:
        return json.dumps(attributes)
    except (TypeError, ValueError) as exc:
        raise TetherError(f"Invalid workflow attributes {attributes}. "
                          "Attributes must be JSON-serializable.") from exc


async def update_attributes(rt: Runtime, workflow_id: str, attributes: dict[str, Any] | None, *,
                            merge: bool = False) -> None:
    """Replace a workflow's attributes (None clears them), or with ``merge`` set the given top-level keys
    and keep the others, atomically.

    Raises:
        TetherError: invalid attributes, or ``merge`` without a dict.
        WorkflowNotFoundError: no workflow has this ID.
    """
    if merge and attributes is None:
        raise TetherError("merge=True requires a dict of attributes")
    encoded = encode_attributes(attributes)
    if not await rt.io(rt.store.update_attributes, workflow_id, encoded, merge):
        raise WorkflowNotFoundError(workflow_id)
