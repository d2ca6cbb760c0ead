"""DBOS's config keys, mistakes in a config, ``DBOS.logger``, ``DBOS.step_status`` and ``destroy``'s options."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tether import DBOS, ArgumentTypeError, ConfigError, NotInWorkflowError, SetWorkflowID, StepStatus
from tether.config import IGNORED_KEYS, VALID_KEYS

from ..conftest import make_config

# Every key of DBOS 3.4's DBOSConfig (read once from dbos==3.4.0).
DBOS_CONFIG_KEYS = [
    "application_version", "auto_upgrade", "auto_upgrade_grace_sec", "auto_upgrade_interval_sec",
    "conductor_executor_metadata", "conductor_key", "conductor_metadata_only_mode", "conductor_url",
    "console_log_level", "db_engine_kwargs", "dbos_system_schema", "enable_otlp", "enable_patching", "executor_id",
    "kafka_queue_polling_interval_sec", "log_level", "max_executor_threads", "name", "notification_coalesce_sec",
    "notification_listener_polling_interval_sec", "observability_query_timeout_sec", "otel_attribute_format",
    "otlp_attributes", "otlp_log_level", "otlp_logs_endpoints", "otlp_traces_endpoints", "run_migrations",
    "scheduler_polling_interval_sec", "serializer", "sharding", "sys_db_idle_transaction_timeout_sec",
    "sys_db_polling_concurrency", "sys_db_pool_size", "system_database_engine", "system_database_url",
    "transact_enterprise_key", "use_listen_notify",
]


@pytest.fixture(autouse=True)
def _no_leftover_app() -> Iterator[None]:
    DBOS.destroy()
    yield
    DBOS.destroy()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_every_dbos_key_is_known_and_each_ignored_one_says_why() -> None:
    assert set(DBOS_CONFIG_KEYS) <= VALID_KEYS
    assert set(IGNORED_KEYS) <= set(DBOS_CONFIG_KEYS)
    assert all(reason for reason in IGNORED_KEYS.values())


def test_a_misspelt_key_is_an_error_naming_the_valid_ones(tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as info:
        DBOS(config={"name": "typo", "system_databse_url": f"sqlite:///{tmp_path}/x.sqlite"})  # type: ignore[typeddict-unknown-key]
    assert "'system_databse_url'" in str(info.value) and "system_database_url" in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing was created


def test_dbos_keys_are_accepted_and_launch(db_url: str) -> None:
    config = make_config(db_url, sys_db_pool_size=3, notification_listener_polling_interval_sec=0.01,
                         enable_otlp=False, otlp_traces_endpoints=[], run_migrations=True, use_listen_notify=True,
                         conductor_key=None, dbos_system_schema="dbos", log_level="WARNING")
    handler = _Records()
    DBOS.logger.addHandler(handler)
    try:
        DBOS(config=config)
        DBOS.launch()
        # dbos_system_schema asks for something Tether does not do: the launch says so
        assert any("dbos_system_schema" in r.getMessage() for r in handler.records)
    finally:
        DBOS.logger.removeHandler(handler)


def test_conductor_arguments_are_accepted_and_have_no_effect(db_url: str) -> None:
    # DBOS(config=..., conductor_key=os.environ.get("DBOS_CONDUCTOR_KEY")) is how DBOS apps are written
    handler = _Records()
    DBOS.logger.addHandler(handler)
    try:
        DBOS(config=make_config(db_url), conductor_url=None, conductor_key="from-the-environment")
        DBOS.launch()

        @DBOS.workflow()
        def runs() -> int:
            return 7

        assert runs() == 7
        assert any("conductor_key" in r.getMessage() and "no effect" in r.getMessage() for r in handler.records)
        assert not any("conductor_url" in r.getMessage() for r in handler.records)  # None asks for nothing
    finally:
        DBOS.logger.removeHandler(handler)


def test_a_conductor_key_that_is_not_text_is_refused_before_anything_is_created(tmp_path: Any) -> None:
    with pytest.raises(ArgumentTypeError, match="conductor_key"):
        DBOS(config=make_config(f"sqlite:///{tmp_path}/x.sqlite"), conductor_key=123)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


def test_enable_patching_pins_the_application_version(db_url: str) -> None:
    config = make_config(db_url, enable_patching=True)
    del config["application_version"]
    DBOS(config=config)
    DBOS.launch()
    assert DBOS.application_version == "PATCHING_ENABLED"
    DBOS.destroy()
    DBOS(config={**config, "application_version": "explicit"})  # an explicit version wins, as in DBOS
    DBOS.launch()
    assert DBOS.application_version == "explicit"


def test_a_second_config_naming_another_database_is_an_error(db_url: str, tmp_path: Any) -> None:
    config = make_config(db_url)
    first = DBOS(config=config)
    DBOS.launch()
    assert DBOS(config=dict(config)) is first  # the same database: the running application
    with pytest.raises(ConfigError, match="already launched"):
        DBOS(config=make_config(f"sqlite:///{tmp_path}/other.sqlite"))
    assert DBOS.executor_id == config["executor_id"]  # still running, on the first database


def test_logger_writes_at_log_level_with_the_workflow_id(db_url: str) -> None:
    @DBOS.workflow()
    def logs_something() -> None:
        DBOS.logger.debug("inside")
        step_logs()

    @DBOS.step()
    def step_logs() -> None:
        DBOS.logger.info("in step")

    DBOS(config=make_config(db_url, log_level="DEBUG"))
    DBOS.launch()
    handler = _Records()
    DBOS.logger.addHandler(handler)
    try:
        DBOS.logger.debug("outside")
        wfid = f"log-{uuid.uuid4()}"
        with SetWorkflowID(wfid):
            logs_something()
    finally:
        DBOS.logger.removeHandler(handler)
    by_message = {r.getMessage(): r for r in handler.records}
    assert by_message["outside"].workflow_id == ""  # type: ignore[attr-defined]
    assert by_message["inside"].workflow_id == wfid  # type: ignore[attr-defined]
    assert by_message["in step"].workflow_id == wfid  # type: ignore[attr-defined]
    assert by_message["in step"].operationUUID == wfid  # type: ignore[attr-defined]
    console = next(h for h in DBOS.logger.handlers if h.name == "tether-console")
    assert wfid in console.format(by_message["inside"])


def test_log_level_filters(db_url: str) -> None:
    DBOS(config=make_config(db_url, log_level="ERROR"))
    DBOS.launch()
    handler = _Records()
    DBOS.logger.addHandler(handler)
    try:
        DBOS.logger.warning("dropped")
        DBOS.logger.error("kept")
    finally:
        DBOS.logger.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == ["kept"]


def test_bad_log_level_is_a_config_error(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="log_level"):
        DBOS(config={"name": "lvl", "system_database_url": f"sqlite:///{tmp_path}/x.sqlite", "log_level": "LOUD"})


def test_step_status(dbos: type[DBOS]) -> None:
    seen: list[StepStatus | None] = []

    @DBOS.step(retries_allowed=True, max_attempts=3, interval_seconds=0)
    def flaky() -> None:
        seen.append(DBOS.step_status)
        if len(seen) < 4:  # the first entry is plain()'s
            raise RuntimeError("again")

    @DBOS.step()
    def plain() -> None:
        seen.append(DBOS.step_status)

    @DBOS.workflow()
    def wf() -> None:
        plain()
        flaky()

    wf()
    assert seen == [StepStatus(1, None, None), StepStatus(2, 0, 3), StepStatus(2, 1, 3), StepStatus(2, 2, 3)]
    assert DBOS.step_status is None


def test_sleep_outside_a_workflow_is_refused(dbos: type[DBOS]) -> None:
    with pytest.raises(NotInWorkflowError, match=r"sleep\(\) must be called from within a workflow"):
        DBOS.sleep(0.01)


def test_destroy_waits_for_running_workflows(db_url: str) -> None:
    release = threading.Event()

    @DBOS.workflow()
    def slow() -> str:
        release.wait(30)
        DBOS.sleep(0)
        return "done"

    DBOS(config=make_config(db_url))
    DBOS.launch()
    wfid = f"drain-{uuid.uuid4()}"
    with SetWorkflowID(wfid):
        DBOS.start_workflow(slow)
    threading.Timer(0.2, release.set).start()
    DBOS.destroy(workflow_completion_timeout_sec=30)
    DBOS(config=make_config(db_url))
    DBOS.launch()
    status = DBOS.get_workflow_status(wfid)
    assert status is not None and status.status == "SUCCESS"
