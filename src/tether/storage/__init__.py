"""Storage: one interface (:class:`tether.storage.base.Store`), a SQLite and a PostgreSQL backend.

Only this package talks to database drivers or holds SQL.
"""

from __future__ import annotations

from tether.config import DatabaseURL
from tether.storage.base import Store
from tether.storage.wakeups import Listener


def open_store(database: DatabaseURL, *, pool_size: int = 10, poll_interval: float = 0.05,
               busy_timeout: float = 60.0) -> Store:
    """Open (and migrate) the store a URL names.

    Raises:
        StorageError: the database cannot be reached or migrated.
    """
    if database.backend == "sqlite":
        from tether.storage.sqlite.store import SqliteStore

        return SqliteStore(database.url, pool_size=pool_size, poll_interval=poll_interval,
                           busy_timeout=busy_timeout)
    from tether.storage.postgres.store import PostgresStore

    return PostgresStore(database.url, pool_size=pool_size)


__all__ = ["Listener", "Store", "open_store"]
