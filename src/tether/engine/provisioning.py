"""Preparing a system database outside any running application: creating and migrating it (with access for
an application's own role), and emptying or removing it between tests."""

from __future__ import annotations

from tether.config import DatabaseURL
from tether.storage import open_store
from tether.storage.provision import create_database, grant_access, reset_database


def migrate(database: DatabaseURL, application_role: str | None) -> None:
    """Create the database if it is missing and bring Tether's tables up to date; with ``application_role``
    (PostgreSQL), let that role use them.

    Raises:
        StorageError: the database cannot be created, reached, migrated, or the grants fail.
    """
    create_database(database)
    open_store(database, pool_size=1).close()  # opening migrates
    if application_role is not None:
        grant_access(database, application_role)


def reset(database: DatabaseURL, *, truncate: bool) -> None:
    """Empty (``truncate``) or remove everything Tether stored in ``database`` (see
    :func:`tether.storage.provision.reset_database`).

    Raises:
        StorageError: the database cannot be reached or changed.
    """
    reset_database(database, truncate=truncate)
