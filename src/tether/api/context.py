"""Context managers that shape the next workflow start: ``SetWorkflowID``, ``SetWorkflowAttributes`` and
friends."""

from __future__ import annotations

import contextvars
from types import TracebackType
from typing import Any, Literal

from tether.engine import validation
from tether.engine.attributes import encode_attributes
from tether.engine.context import (
    reset_assigned_id,
    reset_reject_reuse,
    reset_start_attributes,
    reset_start_timeout,
    set_assigned_id,
    set_reject_reuse,
    set_start_attributes,
    set_start_timeout,
)
from tether.errors import InvalidArgumentError, QueueConfigurationError


class SetWorkflowID:
    """Give the next workflow started (or message sent from plain code) in this block the ID ``wfid`` (the
    parameter's name is DBOS's).

    Starting a workflow under an ID that already exists does not run it again: the caller gets the existing
    workflow's handle or result (``workflow_id_reuse_policy="return-existing"``, the default). With
    ``workflow_id_reuse_policy="reject"`` such a start raises ``DBOSWorkflowIDInUseError`` instead. A ``send``
    from plain code in the block uses the ID as its idempotency key.

    Raises:
        ArgumentTypeError: the ID is not a string (None: InvalidArgumentError, as DBOS's refusal of it).
        InvalidArgumentError: the ID is None, empty or only spaces, too long, or contains NUL or a lone
            surrogate.
        QueueConfigurationError: an unknown reuse policy.
    """

    def __init__(self, wfid: str, *,
                 workflow_id_reuse_policy: Literal["return-existing", "reject"] | None = None) -> None:
        if wfid is None or (isinstance(wfid, str) and not wfid.strip()):  # refused in DBOS's words
            raise InvalidArgumentError("workflow_id", f"Invalid workflow ID {wfid!r}: workflow IDs must be "
                                                      "non-empty and cannot be only whitespace.")
        validation.workflow_id(wfid)
        check_reuse_policy(workflow_id_reuse_policy)
        self.workflow_id = wfid
        self.workflow_id_reuse_policy = workflow_id_reuse_policy
        self._token: contextvars.Token[str | None] | None = None
        self._reject_token: contextvars.Token[str | None] | None = None

    def __enter__(self) -> SetWorkflowID:
        self._token = set_assigned_id(self.workflow_id)
        self._reject_token = set_reject_reuse(
            self.workflow_id if self.workflow_id_reuse_policy == "reject" else None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            reset_assigned_id(self._token)
            self._token = None
        if self._reject_token is not None:
            reset_reject_reuse(self._reject_token)
            self._reject_token = None

    async def __aenter__(self) -> SetWorkflowID:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


def check_reuse_policy(policy: str | None) -> None:
    """Raises:
        QueueConfigurationError: neither ``return-existing`` nor ``reject`` (nor None)."""
    if policy is not None and policy not in ("return-existing", "reject"):
        raise QueueConfigurationError(
            f"Invalid workflow_id_reuse_policy {policy}. Must be either 'return-existing' or 'reject'.")


class SetWorkflowAttributes:
    """Attach ``attributes`` (a JSON-serializable dict) to the workflows started or enqueued in this block;
    they appear as ``WorkflowStatus.attributes`` and, on PostgreSQL, ``list_workflows(attributes=...)`` finds
    them. Child workflows started by those workflows do not inherit them; an inner block overrides an
    outer one, and ``None`` starts workflows without attributes.

    Raises:
        TetherError: ``attributes`` is not a dict (or None), or not JSON-serializable.
    """

    def __init__(self, attributes: dict[str, Any] | None) -> None:
        self._encoded = encode_attributes(attributes)
        self.attributes = attributes
        self._token: contextvars.Token[tuple[str | None, str | None] | None] | None = None

    def __enter__(self) -> SetWorkflowAttributes:
        self._token = set_start_attributes(self._encoded)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            reset_start_attributes(self._token)
            self._token = None

    async def __aenter__(self) -> SetWorkflowAttributes:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


class SetWorkflowTimeout:
    """Give the workflows started or enqueued in this block a timeout: past it (counted from the start, or
    from the dequeue for a queued workflow) the workflow is cancelled, with its children. Children started
    inside such a workflow inherit its deadline unless a block of their own sets another (``None``: none).

    A timeout of 0 is taken as ``None``, as DBOS takes it.

    Raises:
        ValueError: a negative timeout.
    """

    def __init__(self, workflow_timeout_sec: float | None) -> None:
        if workflow_timeout_sec and not workflow_timeout_sec > 0:
            raise ValueError(f"Invalid workflow timeout {workflow_timeout_sec}. Timeouts must be positive.")
        self.workflow_timeout_ms = None if workflow_timeout_sec is None else int(workflow_timeout_sec * 1000)
        self._token: contextvars.Token[tuple[str | None, int | None] | None] | None = None

    def __enter__(self) -> SetWorkflowTimeout:
        self._token = set_start_timeout(self.workflow_timeout_ms or None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            reset_start_timeout(self._token)
            self._token = None

    async def __aenter__(self) -> SetWorkflowTimeout:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)


class SetShardKey:
    """Accepted as DBOS has it, and has no effect: DBOS places the workflows started in the block on the
    shard ``shard_key`` of a sharded system database (a DBOS enterprise feature); Tether's database is not
    sharded, as with the ``shard_key`` arguments of ``send``, ``get_event`` and the rest.

    Raises:
        ValueError: ``shard_key`` is not a non-empty string.
    """

    def __init__(self, shard_key: str) -> None:
        if not isinstance(shard_key, str) or not shard_key:
            raise ValueError("shard_key must be a non-empty string")
        self.shard_key = shard_key

    def __enter__(self) -> SetShardKey:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    async def __aenter__(self) -> SetShardKey:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None
