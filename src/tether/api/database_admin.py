"""``DBOS.migrate`` and ``DBOS.reset_system_database``: preparing the system database before launch (a
deployment step run with a privileged role), and emptying it between tests, as DBOS 3.4 offers them::

    @pytest.fixture()
    def reset_dbos():
        DBOS.destroy()
        DBOS(config=config)
        DBOS.reset_system_database()
        DBOS.launch()
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from tether.config import parse_database_url
from tether.engine import provisioning, validation
from tether.errors import ConfigError, DBOSException

logger = logging.getLogger("tether")


class DatabaseAdmin:
    """Mixed into ``DBOS``."""

    _instance: Any
    _runtime: Any

    @staticmethod
    def migrate(system_database_url: str, *, schema: str = "dbos", application_role: str | None = None,
                sharding: bool = False) -> None:
        """Create the system database if it is missing and bring its tables up to date, as ``DBOS.launch()``
        would; with ``application_role`` (PostgreSQL), grant that role the use of them, so the application can
        run under a role that may not change the schema. ``schema`` is accepted and has no effect (Tether's
        tables live in their own schema, ``tether``).

        Raises:
            DBOSException: ``application_role`` on SQLite.
            ConfigError: an unsupported URL, or ``sharding`` (not offered).
            ArgumentTypeError: ``application_role`` is not a string.
            StorageError: the database cannot be created, reached or migrated, or the grants fail.
        """
        database = parse_database_url(system_database_url)
        role = validation.optional_text(application_role, "application_role")
        if sharding:
            raise ConfigError("sharding is not supported (a DBOS enterprise feature)")
        if role is not None and database.backend == "sqlite":
            raise DBOSException("application_role is only supported for Postgres system databases")
        provisioning.migrate(database, role)

    @classmethod
    def reset_system_database(cls, *, system_database_url: str | None = None, schema: str | None = None,
                              truncate: bool = False) -> None:
        """Remove everything stored in the system database (the configured one, or ``system_database_url``):
        for tests only, before ``DBOS.launch()``. ``truncate=True`` empties the tables and keeps them (faster
        on PostgreSQL); otherwise the SQLite file is deleted, or PostgreSQL's ``tether`` schema dropped (the
        database itself, and anything else in it, stays; DBOS drops the whole database). The next launch
        creates what is missing. Without a ``DBOS(config=...)`` and without a URL it does nothing but warn, as
        in DBOS. ``schema`` is accepted and has no effect.

        Raises:
            DBOSException: DBOS is launched (reset it before ``DBOS.launch()``).
            ConfigError: an unsupported URL.
            StorageError: the database cannot be reached or changed.
        """
        inst = cls._instance
        if inst is None and system_database_url is None:
            logger.warning("reset_system_database has no effect because global DBOS object does not exist")
            return
        if cls._runtime is not None:
            raise DBOSException("The system database cannot be reset after DBOS is launched. Resetting the system "
                                "database is a destructive operation that should only be used in a test "
                                "environment.")
        database = (parse_database_url(system_database_url) if system_database_url is not None
                    else inst._settings.database)
        provisioning.reset(database, truncate=truncate)


def run_dbos_database_migrations(system_database_url: str, *, schema: str = "dbos",
                                 application_role: str | None = None, sharding: bool = False) -> None:
    """``DBOS.migrate`` for a command line: on failure, print why and exit with status 1 (as DBOS's does).

    Raises:
        SystemExit: the migration failed.
    """
    try:
        DatabaseAdmin.migrate(system_database_url, schema=schema, application_role=application_role,
                              sharding=sharding)
    except Exception as exc:
        print(f"DBOS migrations failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
