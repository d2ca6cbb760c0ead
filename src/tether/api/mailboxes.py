"""Mailboxes you can see, on ``DBOS`` and ``DBOSClient`` alike (one definition; see ``api/binding.py``): the
messages queued for a workflow that no ``recv`` has taken yet, and their count per topic.

Called from inside a workflow, each listing is recorded as an operation (as DBOS records ``list_workflows``
there), so recovery replays what the first execution saw.
"""

from __future__ import annotations

from tether.api.binding import _either, _runtime_of
from tether.engine import mailboxes
from tether.engine.bridge import run_sync
from tether.engine.steps import as_operation
from tether.types import PendingMessage


class MailboxReading:
    """Mixin of ``DBOS`` and ``DBOSClient``."""

    @_either
    def list_pending_messages(self, workflow_id: str, topic: str | None = None, *, load_values: bool = False,
                              limit: int | None = None, offset: int | None = None) -> list[PendingMessage]:
        """The messages queued for a workflow that no ``recv`` has taken yet: every topic (``topic=None``) or
        one, grouped by topic and oldest first within a topic (the order ``recv`` takes them). Each has its
        topic (None: sent without one), send time, size in bytes and idempotency key; its decoded value only
        with ``load_values=True`` (a value this process cannot decode is an ``UndecodableValue``, never an
        error for the listing). ``limit``/``offset`` page through a large mailbox. A Tether addition.

        Raises:
            WorkflowNotFoundError: no workflow has ``workflow_id``.
            InvalidArgumentError, ArgumentTypeError: a bad ID, topic, limit or offset, or a non-bool
                ``load_values``.
        """
        return run_sync(self.list_pending_messages_async(workflow_id, topic, load_values=load_values,
                                                         limit=limit, offset=offset))

    @_either
    async def list_pending_messages_async(self, workflow_id: str, topic: str | None = None, *,
                                          load_values: bool = False, limit: int | None = None,
                                          offset: int | None = None) -> list[PendingMessage]:
        """Coroutine form of :meth:`list_pending_messages`."""
        rt = _runtime_of(self)
        return await as_operation("DBOS.listPendingMessages", lambda: mailboxes.list_pending(
            rt, workflow_id, topic, load_values=load_values, limit=limit, offset=offset))

    @_either
    def pending_message_counts(self, workflow_id: str) -> dict[str | None, int]:
        """How many messages are queued for a workflow and not received yet, per topic (the key None counts
        those sent without a topic); topics with none are left out. A Tether addition.

        Raises:
            WorkflowNotFoundError: no workflow has ``workflow_id``.
            InvalidArgumentError, ArgumentTypeError: a bad ID.
        """
        return run_sync(self.pending_message_counts_async(workflow_id))

    @_either
    async def pending_message_counts_async(self, workflow_id: str) -> dict[str | None, int]:
        """Coroutine form of :meth:`pending_message_counts`."""
        rt = _runtime_of(self)
        return await as_operation("DBOS.pendingMessageCounts", lambda: mailboxes.pending_counts(rt, workflow_id))
