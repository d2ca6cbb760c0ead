"""Renaming an application: its queues, schedules, versions and workflows pass to another name (and, when
asked, so do the rows no application claims). The rows move in storage/renamestore.py; this module checks the
request first. Run it while no process of the renamed application runs: one still running would go on
registering rows under the old name.
"""

from __future__ import annotations

import re

from tether.engine.runtime import Runtime
from tether.errors import DBOSException
from tether.types import ApplicationRowCounts

_NAME = re.compile(r"[a-z0-9_-]{3,256}")


async def rename_application(rt: Runtime, old_name: str | None, new_name: str, *, batch_size: int | None,
                             adopt_unclaimed_rows: bool) -> ApplicationRowCounts:
    """Give ``new_name`` the rows ``old_name`` owns and, with ``adopt_unclaimed_rows``, the unclaimed ones;
    ended workflows move ``batch_size`` at a time (all at once when None). Returns what moved, by kind.

    Raises:
        DBOSException: ``old_name`` is empty; nothing to move (no ``old_name`` and no adoption);
            ``new_name`` is not 3-256 lowercase letters, digits, dashes and underscores (DBOS's rule); or the
            two names are the same. Nothing is written.
        ValueError: ``batch_size`` is not a positive integer (or None).
    """
    if old_name is not None and (not isinstance(old_name, str) or not old_name):
        raise DBOSException("The application's previous name cannot be empty.")
    if old_name is None and not adopt_unclaimed_rows:
        raise DBOSException("Nothing to re-own: name the application to rename, adopt unclaimed rows, or both.")
    if not isinstance(new_name, str) or not _NAME.fullmatch(new_name):
        raise DBOSException(f"Invalid application name '{new_name}'. Application names must be between 3 and 256 "
                            "characters long and contain only lowercase letters, numbers, dashes, and "
                            "underscores.")
    if old_name == new_name:
        raise DBOSException(f"Application '{new_name}' already holds that name; nothing to rename.")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    return await rt.io(rt.store.rename_application, old_name, new_name, bool(adopt_unclaimed_rows), batch_size)
