"""Renaming an application (``DBOSClient.rename_application``), which both SQL backends share: the rows an
application owns -- its queues, schedules, versions and workflows -- pass to another name, and so may the
unclaimed ones. Names of queues, schedules and versions are global whatever their owner, so a rename never
merges two rows into one.

The registry rows and the workflows that have not ended move in one transaction: a queue and the workflows
waiting on it never belong to two applications at once. Ended workflows only scope listings, so they follow
in batches of their own transactions (or in the same one when no batch size is given).
"""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from tether.types import ApplicationRowCounts

if TYPE_CHECKING:
    from tether.storage.session import Session

_ALL = 2 ** 62  # a batch size with no batches


class RenameStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    def rename_application(self, old_name: str | None, new_name: str, adopt_unclaimed: bool,
                           batch_size: int | None) -> ApplicationRowCounts:
        """Give ``new_name`` the rows ``old_name`` owns (none when None) and, with ``adopt_unclaimed``, the
        unclaimed ones. Returns how many rows moved, by kind; ``steps`` counts the checkpoints of the moved
        workflows (they have no owner of their own: they belong to their workflow)."""
        params = {"old": old_name, "new": new_name, "adopt": adopt_unclaimed}
        with self._tx() as s:
            steps = int(s.run("rename_source_steps", params).fetchone()[0])
            queues = s.run("rename_queues", params).rowcount
            schedules = s.run("rename_schedules", params).rowcount
            versions = s.run("rename_versions", params).rowcount
            workflows = s.run("rename_active_workflows", params).rowcount
            if batch_size is None:
                workflows += s.run("rename_ended_workflows", {**params, "batch": _ALL}).rowcount
        while batch_size is not None:
            with self._tx() as s:
                moved = s.run("rename_ended_workflows", {**params, "batch": batch_size}).rowcount
            workflows += moved
            if moved < batch_size:
                break
        return ApplicationRowCounts(queues=queues, schedules=schedules, versions=versions, workflows=workflows,
                                    steps=steps)
