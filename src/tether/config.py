"""From the user's ``DBOSConfig`` to one frozen :class:`Settings`; the URL picks the storage backend."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from tether.errors import ConfigError


class DBOSConfig(TypedDict, total=False):
    """What an application configures. Only ``name`` is required; every key of DBOS 3.4's ``DBOSConfig`` is
    accepted (``docs/compatibility.md`` says which ones Tether honours), any other key is a :class:`ConfigError`.

    - ``system_database_url``: ``sqlite:///path.sqlite`` or ``postgresql://user@host:port/db``. When absent,
      ``DBOS_SYSTEM_DATABASE_URL``, else a SQLite file named after the app in the working directory.
    - ``executor_id``: identifies this process for recovery (default ``"local"``).
    - ``application_version``: recorded on every workflow; recovery only resumes matching versions.
      ``enable_patching: True`` pins it to ``"PATCHING_ENABLED"``, as DBOS does.
    - ``max_executor_threads``: threads for synchronous workflows started in the background.
    - ``sys_db_pool_size`` (or Tether's ``db_pool_size``): database connections (default 10).
    - ``log_level`` / ``console_log_level``: level of ``DBOS.logger`` and of its console handler (default INFO).
    - ``enable_otlp``: OpenTelemetry spans for workflows and steps (off by default, as in DBOS; needs
      ``pip install 'tether[otel]'``). ``otlp_traces_endpoints`` / ``otlp_logs_endpoints`` export over OTLP/HTTP,
      ``otlp_attributes`` are added to every span and log record, ``otel_attribute_format`` (``"legacy"`` or
      ``"semconv"``) names the span attributes, ``otlp_log_level`` is the level of the OTLP log handler.
      See docs/observability.md.
    - ``serializer``: a :class:`tether.Serializer` used for values stored in the default format.
    - ``notification_listener_polling_interval_sec`` (or Tether's ``sqlite_poll_interval_sec``): how often SQLite
      checks for writes made by *other* processes (default 0.05).
    - ``sqlite_busy_timeout_sec`` (Tether's): how long a SQLite write waits for another connection's lock before
      the operation backs off and tries again (default 60).
    - ``heartbeat_interval_sec`` (Tether's): how often this process renews its heartbeat in the database and
      looks for dead processes to adopt (default 2).
    - ``heartbeat_timeout_sec`` (Tether's): how long without a heartbeat before this process's workflows may be
      adopted by another (default 10; at least twice the interval). See docs/guarantees.md.
    - ``wakeup_recheck_interval_sec`` (Tether's): how often the safety net against a lost wake-up re-checks
      every waiting ``recv``, ``get_event``, stream read and ``get_result`` in the database, in one read per
      kind of wait however many there are (default 30).
    """

    name: str
    system_database_url: str | None
    sys_db_pool_size: int | None
    sys_db_polling_concurrency: int | None
    db_engine_kwargs: dict[str, Any] | None
    sys_db_idle_transaction_timeout_sec: float | None
    log_level: str | None
    otlp_log_level: str | None
    console_log_level: str | None
    otlp_traces_endpoints: list[str] | None
    otlp_logs_endpoints: list[str] | None
    otlp_attributes: dict[str, str] | None
    application_version: str | None
    executor_id: str | None
    dbos_system_schema: str | None
    enable_otlp: bool | None
    system_database_engine: Any
    conductor_key: str | None
    conductor_url: str | None
    conductor_executor_metadata: dict[str, Any] | None
    conductor_metadata_only_mode: bool | None
    transact_enterprise_key: str | None
    auto_upgrade: bool | None
    auto_upgrade_interval_sec: float | None
    auto_upgrade_grace_sec: float | None
    serializer: Any
    enable_patching: bool | None
    use_listen_notify: bool | None
    sharding: bool | None
    run_migrations: bool | None
    max_executor_threads: int | None
    notification_listener_polling_interval_sec: float | None
    notification_coalesce_sec: float | None
    observability_query_timeout_sec: float | None
    scheduler_polling_interval_sec: float | None
    kafka_queue_polling_interval_sec: float | None
    otel_attribute_format: str | None
    # Tether's own keys
    sqlite_poll_interval_sec: float | None
    sqlite_busy_timeout_sec: float | None
    db_pool_size: int | None
    heartbeat_interval_sec: float | None
    heartbeat_timeout_sec: float | None
    wakeup_recheck_interval_sec: float | None


# Keys Tether accepts and does not act on, each with the reason (also the "not supported" rows of
# docs/compatibility.md). Setting one to a value that asks for the feature logs a warning once per launch.
IGNORED_KEYS: dict[str, str] = {
    "sys_db_polling_concurrency": "waits hold no connection in Tether (one wake-up hub), so there is nothing to limit",
    "db_engine_kwargs": "Tether does not use SQLAlchemy engines",
    "sys_db_idle_transaction_timeout_sec": "Tether never leaves a transaction open across a wait",
    "dbos_system_schema": "Tether's tables live in its own fixed schema",
    "system_database_engine": "Tether does not use SQLAlchemy engines; give system_database_url",
    "conductor_key": "DBOS Conductor is a DBOS service",
    "conductor_url": "DBOS Conductor is a DBOS service",
    "conductor_executor_metadata": "DBOS Conductor is a DBOS service",
    "conductor_metadata_only_mode": "DBOS Conductor is a DBOS service",
    "transact_enterprise_key": "DBOS enterprise features are not offered",
    "sharding": "DBOS enterprise sharding is not offered",
    "auto_upgrade": "workflows are not moved between application versions automatically",
    "auto_upgrade_interval_sec": "workflows are not moved between application versions automatically",
    "auto_upgrade_grace_sec": "workflows are not moved between application versions automatically",
    "use_listen_notify": "PostgreSQL always uses LISTEN/NOTIFY, SQLite always polls",
    "run_migrations": "launch always brings the schema up to date",
    "notification_coalesce_sec": "notifications are sent when the writing transaction commits",
    "observability_query_timeout_sec": "listing queries have no statement timeout",
    "scheduler_polling_interval_sec": "not used by Tether's scheduler",
}

VALID_KEYS: frozenset[str] = frozenset(DBOSConfig.__annotations__)


Backend = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class DatabaseURL:
    backend: Backend
    url: str  # the URL as given (postgres) or the file path (sqlite)


@dataclass(frozen=True)
class Telemetry:
    """The OpenTelemetry keys of a config (see docs/observability.md)."""

    enable_otlp: bool = False
    traces_endpoints: tuple[str, ...] = ()
    logs_endpoints: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    attribute_format: Literal["legacy", "semconv"] = "legacy"
    otlp_log_level: str | None = None


@dataclass(frozen=True)
class Settings:
    name: str
    database: DatabaseURL
    executor_id: str
    application_version: str
    max_executor_threads: int
    sqlite_poll_interval_sec: float
    db_pool_size: int
    log_level: str = "INFO"
    console_log_level: str | None = None
    serializer: Any = None
    sqlite_busy_timeout_sec: float = 60.0
    heartbeat_interval_sec: float = 2.0
    heartbeat_timeout_sec: float = 10.0
    wakeup_recheck_interval_sec: float = 30.0
    kafka_queue_polling_interval_sec: float | None = None  # the internal Kafka queues' (engine/kafka.py)
    # executor_id came from the config or DBOS__VMID (not the shared default "local"): a live process already
    # holding it is a mistake, and launch refuses.
    executor_id_explicit: bool = False
    telemetry: Telemetry = field(default_factory=Telemetry)


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
    unknown = sorted(set(config) - VALID_KEYS)
    if unknown:
        raise ConfigError(f"Unknown config key(s) {', '.join(map(repr, unknown))}; "
                          f"valid keys are: {', '.join(sorted(VALID_KEYS))}")
    name = config.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError("config['name'] must be a non-empty string of letters, digits, '_', '-' or '.'")
    url = config.get("system_database_url") or os.environ.get("DBOS_SYSTEM_DATABASE_URL")
    if not url:
        url = f"sqlite:///{name}.sqlite"
    poll = config.get("sqlite_poll_interval_sec") or config.get("notification_listener_polling_interval_sec") \
        or 0.05
    threads = config.get("max_executor_threads") or 256
    pool = config.get("db_pool_size") or config.get("sys_db_pool_size") or 10
    busy = config.get("sqlite_busy_timeout_sec") or 60.0
    if poll <= 0 or threads <= 0 or pool <= 0 or busy <= 0:
        raise ConfigError("sqlite_poll_interval_sec, sqlite_busy_timeout_sec, max_executor_threads and "
                          "db_pool_size must be positive")
    interval = config.get("heartbeat_interval_sec") or 2.0
    timeout = config.get("heartbeat_timeout_sec") or 10.0
    if not (isinstance(interval, (int, float)) and isinstance(timeout, (int, float))
            and 0 < interval < math.inf and 2 * interval <= timeout < math.inf):
        raise ConfigError("heartbeat_interval_sec must be positive and heartbeat_timeout_sec at least twice it")
    recheck = config.get("wakeup_recheck_interval_sec") or 30.0
    if not (isinstance(recheck, (int, float)) and 0 < recheck < math.inf):
        raise ConfigError("wakeup_recheck_interval_sec must be a positive number of seconds")
    kafka_poll = config.get("kafka_queue_polling_interval_sec")
    if kafka_poll is not None and not (isinstance(kafka_poll, (int, float)) and not isinstance(kafka_poll, bool)
                                       and 0 < kafka_poll < math.inf):
        raise ConfigError("kafka_queue_polling_interval_sec must be a positive number of seconds")
    # as DBOS: an explicit application_version, else enable_patching's pin, else the environment
    version = config.get("application_version") or (
        "PATCHING_ENABLED" if config.get("enable_patching") else os.environ.get("DBOS__APPVERSION") or "")
    return Settings(
        name=name,
        database=parse_database_url(url),
        executor_id=config.get("executor_id") or os.environ.get("DBOS__VMID") or "local",
        executor_id_explicit=bool(config.get("executor_id") or os.environ.get("DBOS__VMID")),
        application_version=version,
        max_executor_threads=int(threads),
        sqlite_poll_interval_sec=float(poll),
        db_pool_size=int(pool),
        log_level=_level(config.get("log_level"), "log_level") or "INFO",
        console_log_level=_level(config.get("console_log_level"), "console_log_level"),
        serializer=_serializer(config.get("serializer")),
        sqlite_busy_timeout_sec=float(busy),
        heartbeat_interval_sec=float(interval),
        heartbeat_timeout_sec=float(timeout),
        wakeup_recheck_interval_sec=float(recheck),
        kafka_queue_polling_interval_sec=None if kafka_poll is None else float(kafka_poll),
        telemetry=_telemetry(config),
    )


def ignored_settings(config: DBOSConfig) -> list[str]:
    """The keys of ``config`` that ask for something Tether does not do, each with the reason."""
    notes = [f"{key} ({IGNORED_KEYS[key]})" for key, value in config.items()
             if key in IGNORED_KEYS and value not in (None, False, "", [], {})]
    if not config.get("enable_otlp"):  # as in DBOS, the other OpenTelemetry keys need enable_otlp
        notes += [f"{key} (OpenTelemetry is off: set enable_otlp to True)" for key in _OTEL_KEYS
                  if config.get(key) not in (None, "", [], {})]
    return notes


_OTEL_KEYS = ("otlp_traces_endpoints", "otlp_logs_endpoints", "otlp_attributes", "otel_attribute_format",
              "otlp_log_level")


def _telemetry(config: DBOSConfig) -> Telemetry:
    """Raises ConfigError: an OpenTelemetry key of the wrong type."""
    enable = config.get("enable_otlp")
    if enable is not None and not isinstance(enable, bool):
        raise ConfigError(f"enable_otlp must be True or False, not {enable!r}")
    endpoints = {}
    for key in ("otlp_traces_endpoints", "otlp_logs_endpoints"):
        value = config.get(key) or []
        if not isinstance(value, (list, tuple)) or not all(isinstance(e, str) and e for e in value):
            raise ConfigError(f"{key} must be a list of endpoint URLs, not {value!r}")
        endpoints[key] = tuple(value)
    attributes = config.get("otlp_attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in attributes.items()):
        raise ConfigError(f"otlp_attributes must be a dict of strings to strings, not {attributes!r}")
    fmt = config.get("otel_attribute_format") or "legacy"
    if fmt not in ("legacy", "semconv"):
        raise ConfigError(f"otel_attribute_format must be 'legacy' or 'semconv', not {fmt!r}")
    return Telemetry(enable_otlp=bool(enable), traces_endpoints=endpoints["otlp_traces_endpoints"],
                     logs_endpoints=endpoints["otlp_logs_endpoints"], attributes=tuple(attributes.items()),
                     attribute_format="semconv" if fmt == "semconv" else "legacy",
                     otlp_log_level=_level(config.get("otlp_log_level"), "otlp_log_level"))


def _level(value: object, key: str) -> str | None:
    if value is None:
        return None
    import logging

    if isinstance(value, int) or not isinstance(value, str) or \
            not isinstance(logging.getLevelName(value.upper()), int):
        raise ConfigError(f"{key} must be a logging level name such as 'INFO' or 'DEBUG', not {value!r}")
    return value.upper()


def _serializer(value: object) -> Any:
    if value is None:
        return None
    if not callable(getattr(value, "serialize", None)) or not callable(getattr(value, "deserialize", None)):
        raise ConfigError("serializer must have serialize(value) -> str and deserialize(str) -> value methods")
    return value
