"""``DBOS.select`` and ``DBOS.select_async`` (``SelectAPI``, a mixin of ``DBOS``): wait inside a workflow for
the first of several sources -- messages on some topics, another workflow's event or end -- or a timeout."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from tether.engine import select as selecting
from tether.engine.bridge import run_sync
from tether.engine.runtime import Runtime
from tether.selection import Selected, Source


class SelectAPI:
    """Mixin of ``DBOS``."""

    _rt: ClassVar[Callable[[], Runtime]]  # DBOS's: the launched runtime

    @classmethod
    def select(cls, sources: Sequence[Source], timeout_seconds: float = 60) -> Selected | None:
        """Wait for the first of ``sources`` (built with ``on_message``, ``on_event``, ``on_completion``) to
        fire and return which one and its value, or None when ``timeout_seconds`` pass first. Workflows only.

        When several sources are ready at once, the first in list order wins. A winning message source
        consumes exactly one message (the oldest of its topic); the other topics keep theirs. Checkpointed
        as ``recv`` is: a recovered workflow gets the same winner and value without waiting.

        Raises:
            NotInWorkflowError: called outside a workflow, or from a step.
            ArgumentTypeError: ``sources`` is not a list, an item is not a source, or an ID, topic or key is
                not a ``str``; nothing is written.
            InvalidArgumentError: no sources, a topic / event / workflow named twice, a workflow waiting for
                its own end, or a bad ID, topic, key or timeout; nothing is written.
            DBOSUnexpectedStepError: on replay, the recorded winner is not the source now at its index.
        """
        return run_sync(selecting.select(cls._rt(), sources, timeout_seconds))

    @classmethod
    async def select_async(cls, sources: Sequence[Source], timeout_seconds: float = 60) -> Selected | None:
        """Coroutine form of :meth:`select`; the waiting workflow holds no thread."""
        return await selecting.select(cls._rt(), sources, timeout_seconds)
