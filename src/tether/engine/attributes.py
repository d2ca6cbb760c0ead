"""Workflow attributes: a JSON object attached to a workflow at its start (``SetWorkflowAttributes``) or later
(``update_workflow_attributes``), shown on its status and, on PostgreSQL, searchable with
``list_workflows(attributes=...)``."""

from __future__ import annotations

import json
from typing import Any

from tether.engine.runtime import Runtime
from tether.errors import InvalidArgumentError, TetherError, WorkflowNotFoundError


def encode_attributes(attributes: dict[str, Any] | None) -> str | None:
    """Attributes as stored (JSON text), checked before anything is written: what one backend stores (or
    matches) the other does too. PostgreSQL's JSON holds no NaN or infinity, no NUL and no lone surrogate.

    Raises:
        TetherError: not a dict (or None), or not JSON-serializable.
        InvalidArgumentError: (a :class:`TetherError`) a NaN or infinite number, a string or key with a NUL
            character or a lone surrogate, or nesting too deep to encode.
    """
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise TetherError(f"Invalid workflow attributes {attributes}. Attributes must be a dict.")
    try:
        encoded = json.dumps(attributes, allow_nan=False)
    except (ValueError, RecursionError) as exc:  # NaN or infinity; nested too deep
        raise InvalidArgumentError("attributes", f"must be a JSON object: {exc}") from exc
    except TypeError as exc:
        raise TetherError(f"Invalid workflow attributes {attributes}. "
                          "Attributes must be JSON-serializable.") from exc
    _check_strings(attributes)
    return encoded


def _check_strings(attributes: dict[str, Any]) -> None:
    """Raise InvalidArgumentError if a key or string anywhere in ``attributes`` holds a NUL or a lone
    surrogate (iterative: a value json.dumps took can be nested deeper than this stack allows)."""
    todo: list[Any] = [attributes]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            todo.extend(value.keys())
            todo.extend(value.values())
        elif isinstance(value, list | tuple):
            todo.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise InvalidArgumentError("attributes", f"a string contains a NUL character: {value[:40]!r}")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise InvalidArgumentError("attributes", f"a string contains a lone surrogate: "
                                                             f"{value[:40]!r}") from None


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
