"""What ``DBOS.select`` waits on, and what it returns: value types every layer speaks.

    from tether import DBOS, on_completion, on_event, on_message

    picked = DBOS.select([on_message("approve"), on_message("cancel"), on_completion(child)],
                         timeout_seconds=3600)
    if picked is None: ...                          # the timeout fired first
    elif picked.index == 0: approve(picked.value)  # the message taken from topic "approve"

A source is a small frozen value; build it with :func:`on_message`, :func:`on_event` or :func:`on_completion`.
Arguments are checked by ``select`` itself, before it writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class OnMessage:
    """A message on ``topic`` of the calling workflow's own mailbox (``None``: messages sent without a topic).
    When it wins, exactly that one message (the oldest of the topic) is consumed."""

    topic: str | None = None
    kind: ClassVar[str] = "message"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "topic": self.topic}


@dataclass(frozen=True)
class OnEvent:
    """Event ``key`` of workflow ``workflow_id`` has a value (its latest value when select looked)."""

    workflow_id: str
    key: str
    kind: ClassVar[str] = "event"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workflow_id": self.workflow_id, "key": self.key}


@dataclass(frozen=True)
class OnCompletion:
    """Workflow ``workflow_id`` has ended: succeeded, failed, was cancelled or exceeded its recovery attempts."""

    workflow_id: str
    kind: ClassVar[str] = "completion"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "workflow_id": self.workflow_id}


Source = OnMessage | OnEvent | OnCompletion
SOURCE_TYPES = (OnMessage, OnEvent, OnCompletion)


def on_message(topic: str | None = None) -> OnMessage:
    """Wait for a message on ``topic`` of this workflow (as ``DBOS.recv(topic)`` would take it)."""
    return OnMessage(topic)


def on_event(workflow_id: str, key: str) -> OnEvent:
    """Wait for event ``key`` of ``workflow_id`` to be set (as ``DBOS.get_event`` would read it)."""
    return OnEvent(workflow_id, key)


def on_completion(workflow: Any) -> OnCompletion:
    """Wait for a workflow to end; ``workflow`` is its ID or one of its handles (anything with ``workflow_id``)."""
    return OnCompletion(workflow if isinstance(workflow, str) else getattr(workflow, "workflow_id", workflow))


@dataclass(frozen=True)
class Selected:
    """The source that fired first, as ``DBOS.select`` returns it.

    ``index`` is its position in the list given to select and ``source`` the source itself. ``value`` is the
    message taken, the event's value, or the ended workflow's return value. For a completion, ``status`` is
    the workflow's final status (``SUCCESS``, ``ERROR``, ``CANCELLED``, ``MAX_RECOVERY_ATTEMPTS_EXCEEDED``)
    and ``error`` what ``get_result`` would raise for it (``None`` after a success); both are ``None`` for
    messages and events.
    """

    index: int
    source: Source
    value: Any = None
    status: str | None = None
    error: BaseException | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        """``"message"``, ``"event"`` or ``"completion"``."""
        return self.source.kind

    def result(self) -> Any:
        """``value``, or raise ``error`` when the workflow awaited by a completion source did not succeed.

        Raises:
            BaseException: the ``error`` recorded for an ended workflow that did not succeed.
        """
        if self.error is not None:
            raise self.error
        return self.value
