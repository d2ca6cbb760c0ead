"""Context managers that shape the next workflow start: ``SetWorkflowID`` and friends."""

from __future__ import annotations

import contextvars
from types import TracebackType

from tether.engine.context import reset_assigned_id, set_assigned_id


class SetWorkflowID:
    """Give the next workflow started (or message sent from plain code) in this block the ID ``workflow_id``.

    Starting a workflow under an ID that already exists does not run it again: the caller gets the existing
    workflow's handle or result. A ``send`` from plain code in the block uses the ID as its idempotency key.

    Raises:
        ValueError: the ID is empty or not a string.
    """

    def __init__(self, workflow_id: str) -> None:
        if not isinstance(workflow_id, str) or not workflow_id:
            raise ValueError("SetWorkflowID needs a non-empty string")
        self.workflow_id = workflow_id
        self._token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> SetWorkflowID:
        self._token = set_assigned_id(self.workflow_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            reset_assigned_id(self._token)
            self._token = None

    async def __aenter__(self) -> SetWorkflowID:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)
