"""From the user's ``DBOSConfig`` to one frozen :class:`Settings`; the URL picks the storage backend."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal, TypedDict

from tether.errors import ConfigError


class DBOSConfig(TypedDict, total=False):
    """What an application configures. Only ``name`` is required.

    - ``system_database_url``: ``sqlite:///path.sqlite`` or ``postgresql://user@host:port/db``. When absent, a
      SQLite file named after the app in the working directory.
    - ``executor_id``: identifies this process for recovery (default ``"local"``).
    - ``application_version``: recorded on every workflow; recovery only resumes matching versions.
    - ``max_executor_threads``: threads for synchronous workflows started in the background.
    - ``sqlite_poll_interval_sec``: how often SQLite checks for writes made by *other* processes (default 0.05).
    """

    name: str
    system_database_url: str | None
    executor_id: str | None
    application_version: str | None
    max_executor_threads: int | None
    sqlite_poll_interval_sec: float | None
    db_pool_size: int | None
    log_level: str | None


Backend = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class DatabaseURL:
    backend: Backend
    url: str  # the URL as given (postgres) or the file path (sqlite)


@dataclass(frozen=True)
class Settings:
    name: str
    database: DatabaseURL
    executor_id: str
    application_version: str
    max_executor_threads: int
    sqlite_poll_interval_sec: float
    db_pool_size: int


_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def parse_database_url(url: str) -> DatabaseURL:
    """Tell the backend from a URL.

    Raises:
        ConfigError: the URL is empty or of an unsupported scheme.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("system_database_url must be a non-empty string")
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if path.startswith("/"):
            path = path[1:]  # sqlite:///relative.db -> relative.db ; sqlite:////abs.db -> /abs.db
        if not path:
            raise ConfigError(f"SQLite URL {url!r} names no file")
        if path == ":memory:":
            raise ConfigError("An in-memory SQLite database cannot be durable; give a file path")
        return DatabaseURL("sqlite", path)
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return DatabaseURL("postgres", url.replace("postgresql+psycopg://", "postgresql://", 1))
    raise ConfigError(
        f"Unsupported database URL {url!r}: expected sqlite:///path.sqlite or postgresql://..."
    )


def settings_from_config(config: DBOSConfig) -> Settings:
    """Validate a config and fill in defaults.

    Raises:
        ConfigError: a field is missing or malformed.
    """
    if not isinstance(config, dict):
        raise ConfigError("config must be a dict (DBOSConfig)")
    name = config.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError("config['name'] must be a non-empty string of letters, digits, '_', '-' or '.'")
    url = config.get("system_database_url") or os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if not url:
        url = f"sqlite:///{name}.sqlite"
    poll = config.get("sqlite_poll_interval_sec") or 0.05
    threads = config.get("max_executor_threads") or 256
    pool = config.get("db_pool_size") or 10
    if poll <= 0 or threads <= 0 or pool <= 0:
        raise ConfigError("sqlite_poll_interval_sec, max_executor_threads and db_pool_size must be positive")
    return Settings(
        name=name,
        database=parse_database_url(url),
        executor_id=config.get("executor_id") or os.environ.get("DBOS__VMID") or "local",
        application_version=config.get("application_version") or os.environ.get("DBOS__APPVERSION") or "",
        max_executor_threads=int(threads),
        sqlite_poll_interval_sec=float(poll),
        db_pool_size=int(pool),
    )
