"""docs/compatibility.md covers every name of DBOS 3.4's public surface, and says "not supported" exactly for
the names Tether does not have.

The names were read once from ``dbos==3.4.0``: ``dbos.__all__``, and the public methods and properties of
``DBOS``, ``DBOSClient``, ``Queue``, ``WorkflowHandle`` and ``WorkflowHandleAsync``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import tether
from tests.unit.dbos34_parameters import DBOS_PARAMETERS
from tether.config import IGNORED_KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"

DBOS_ALL = [
    "AsyncSQLAlchemyDatasource", "ClientScheduleInput", "DBOS", "DBOSClient", "DBOSConfig",
    "DBOSConfiguredInstance", "DBOSContextEnsure", "DBOSContextSetAuth", "DBOSPortableJSONSerializer", "Debouncer",
    "DebouncerClient", "DuplicationPolicy", "EnqueueOptions", "KafkaMessage", "PortableWorkflowError",
    "PropagateOtelContext", "Queue", "SQLAlchemyDatasource", "ScheduleInput", "SendMessage", "Serializer",
    "SetEnqueueOptions", "SetShardKey", "SetWorkflowAttributes", "SetWorkflowID", "SetWorkflowTimeout", "StepInfo",
    "StepOptions", "StepReservation", "VersionInfo", "WorkflowHandle", "WorkflowHandleAsync",
    "WorkflowIDReusePolicy", "WorkflowSchedule", "WorkflowSerializationFormat", "WorkflowStatus",
    "WorkflowStatusString", "error", "make_pydantic_args_validator", "pydantic_args_validator",
    "run_dbos_database_migrations",
]

DBOS_MEMBERS = [
    "DBOS.alert_handler", "DBOS.application_version", "DBOS.apply_schedules", "DBOS.apply_schedules_async",
    "DBOS.assumed_role", "DBOS.asyncio_wait", "DBOS.authenticated_roles", "DBOS.authenticated_user",
    "DBOS.backfill_schedule", "DBOS.cancel_workflow", "DBOS.cancel_workflow_async", "DBOS.cancel_workflows",
    "DBOS.cancel_workflows_async", "DBOS.close_stream", "DBOS.close_stream_async", "DBOS.create_schedule",
    "DBOS.create_schedule_async", "DBOS.dbos_class", "DBOS.default_required_roles", "DBOS.delete_queue",
    "DBOS.delete_queue_async", "DBOS.delete_schedule", "DBOS.delete_schedule_async", "DBOS.delete_workflow",
    "DBOS.delete_workflow_async", "DBOS.delete_workflows", "DBOS.delete_workflows_async", "DBOS.deprecate_patch",
    "DBOS.deprecate_patch_async", "DBOS.destroy", "DBOS.enqueue_workflow", "DBOS.enqueue_workflow_async",
    "DBOS.enqueue_workflow_with_options", "DBOS.enqueue_workflow_with_options_async", "DBOS.executor_id",
    "DBOS.fork_workflow", "DBOS.fork_workflow_async", "DBOS.get_all_events", "DBOS.get_all_events_async",
    "DBOS.get_event", "DBOS.get_event_async", "DBOS.get_latest_application_version",
    "DBOS.get_latest_application_version_async", "DBOS.get_result", "DBOS.get_result_async", "DBOS.get_schedule",
    "DBOS.get_schedule_async", "DBOS.get_workflow_status", "DBOS.get_workflow_status_async", "DBOS.kafka_consumer",
    "DBOS.launch", "DBOS.list_application_versions", "DBOS.list_application_versions_async",
    "DBOS.list_queued_workflows", "DBOS.list_queued_workflows_async", "DBOS.list_queues", "DBOS.list_queues_async",
    "DBOS.list_schedules", "DBOS.list_schedules_async", "DBOS.list_workflow_steps",
    "DBOS.list_workflow_steps_async", "DBOS.list_workflows", "DBOS.list_workflows_async", "DBOS.listen_queues",
    "DBOS.logger", "DBOS.migrate", "DBOS.patch", "DBOS.patch_async", "DBOS.pause_schedule", "DBOS.read_stream",
    "DBOS.read_stream_async", "DBOS.read_stream_offset", "DBOS.read_stream_offset_async", "DBOS.recv",
    "DBOS.recv_async", "DBOS.register_queue", "DBOS.register_queue_async", "DBOS.required_roles",
    "DBOS.reserve_step", "DBOS.reset_system_database", "DBOS.resume_schedule", "DBOS.resume_workflow",
    "DBOS.resume_workflow_async", "DBOS.resume_workflows", "DBOS.resume_workflows_async", "DBOS.retrieve_queue",
    "DBOS.retrieve_queue_async", "DBOS.retrieve_workflow", "DBOS.retrieve_workflow_async", "DBOS.rewind_workflow",
    "DBOS.rewind_workflow_async", "DBOS.run_step", "DBOS.run_step_async", "DBOS.send", "DBOS.send_async",
    "DBOS.send_bulk", "DBOS.send_bulk_async", "DBOS.set_authentication", "DBOS.set_event", "DBOS.set_event_async",
    "DBOS.set_latest_application_version", "DBOS.set_latest_application_version_async", "DBOS.set_workflow_delay",
    "DBOS.set_workflow_delay_async", "DBOS.shard_key", "DBOS.sleep", "DBOS.sleep_async", "DBOS.span",
    "DBOS.start_workflow", "DBOS.start_workflow_async", "DBOS.step", "DBOS.step_id", "DBOS.step_status",
    "DBOS.tracer", "DBOS.trigger_schedule", "DBOS.update_workflow_attributes",
    "DBOS.update_workflow_attributes_async", "DBOS.wait_first", "DBOS.wait_first_async", "DBOS.workflow",
    "DBOS.workflow_id", "DBOS.write_stream", "DBOS.write_stream_async", "DBOSClient.apply_schedules",
    "DBOSClient.apply_schedules_async", "DBOSClient.backfill_schedule", "DBOSClient.cancel_workflow",
    "DBOSClient.cancel_workflow_async", "DBOSClient.cancel_workflows", "DBOSClient.cancel_workflows_async",
    "DBOSClient.check_connection", "DBOSClient.check_connection_async", "DBOSClient.create_schedule",
    "DBOSClient.create_schedule_async", "DBOSClient.delete_queue", "DBOSClient.delete_queue_async",
    "DBOSClient.delete_schedule", "DBOSClient.delete_schedule_async", "DBOSClient.delete_workflow",
    "DBOSClient.delete_workflow_async", "DBOSClient.delete_workflows", "DBOSClient.delete_workflows_async",
    "DBOSClient.destroy", "DBOSClient.enqueue", "DBOSClient.enqueue_async", "DBOSClient.enqueue_in_transaction",
    "DBOSClient.fork_workflow", "DBOSClient.fork_workflow_async", "DBOSClient.get_event",
    "DBOSClient.get_event_async", "DBOSClient.get_latest_application_version",
    "DBOSClient.get_latest_application_version_async", "DBOSClient.get_schedule", "DBOSClient.get_schedule_async",
    "DBOSClient.list_application_versions", "DBOSClient.list_application_versions_async",
    "DBOSClient.list_queued_workflows", "DBOSClient.list_queued_workflows_async", "DBOSClient.list_queues",
    "DBOSClient.list_queues_async", "DBOSClient.list_schedules", "DBOSClient.list_schedules_async",
    "DBOSClient.list_workflow_steps", "DBOSClient.list_workflow_steps_async", "DBOSClient.list_workflows",
    "DBOSClient.list_workflows_async", "DBOSClient.pause_schedule", "DBOSClient.read_stream",
    "DBOSClient.read_stream_async", "DBOSClient.read_stream_offset", "DBOSClient.read_stream_offset_async",
    "DBOSClient.register_queue", "DBOSClient.register_queue_async", "DBOSClient.rename_application",
    "DBOSClient.rename_application_async", "DBOSClient.resume_schedule", "DBOSClient.resume_workflow",
    "DBOSClient.resume_workflow_async", "DBOSClient.resume_workflows", "DBOSClient.resume_workflows_async",
    "DBOSClient.retrieve_queue", "DBOSClient.retrieve_queue_async", "DBOSClient.retrieve_workflow",
    "DBOSClient.retrieve_workflow_async", "DBOSClient.rewind_workflow", "DBOSClient.rewind_workflow_async",
    "DBOSClient.send", "DBOSClient.send_async", "DBOSClient.send_bulk", "DBOSClient.send_bulk_async",
    "DBOSClient.send_bulk_in_transaction", "DBOSClient.send_in_transaction",
    "DBOSClient.set_latest_application_version", "DBOSClient.set_latest_application_version_async",
    "DBOSClient.set_workflow_delay", "DBOSClient.set_workflow_delay_async", "DBOSClient.trigger_schedule",
    "DBOSClient.update_workflow_attributes", "DBOSClient.update_workflow_attributes_async",
    "DBOSClient.wait_first", "DBOSClient.wait_first_async", "Queue.concurrency", "Queue.enqueue",
    "Queue.enqueue_async", "Queue.get_concurrency_async", "Queue.get_global_concurrency_async",
    "Queue.get_limiter_async", "Queue.get_partition_concurrency_async", "Queue.get_partition_limiter_async",
    "Queue.get_partition_worker_concurrency_async", "Queue.get_polling_interval_sec_async",
    "Queue.get_worker_concurrency_async", "Queue.global_concurrency", "Queue.limiter",
    "Queue.partition_concurrency", "Queue.partition_limiter", "Queue.partition_worker_concurrency",
    "Queue.polling_interval_sec", "Queue.set_concurrency", "Queue.set_concurrency_async",
    "Queue.set_global_concurrency", "Queue.set_global_concurrency_async", "Queue.set_limiter",
    "Queue.set_limiter_async", "Queue.set_partition_concurrency", "Queue.set_partition_concurrency_async",
    "Queue.set_partition_limiter", "Queue.set_partition_limiter_async", "Queue.set_partition_worker_concurrency",
    "Queue.set_partition_worker_concurrency_async", "Queue.set_polling_interval_sec",
    "Queue.set_polling_interval_sec_async", "Queue.set_worker_concurrency", "Queue.set_worker_concurrency_async",
    "Queue.worker_concurrency", "WorkflowHandle.get_result", "WorkflowHandle.get_status",
    "WorkflowHandle.get_workflow_id", "WorkflowHandleAsync.get_result", "WorkflowHandleAsync.get_status",
    "WorkflowHandleAsync.get_workflow_id",
]

_ROW = re.compile(r"^\| `([^`]+)` \| (.+) \|$")


def _rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in DOC.read_text().splitlines():
        m = _ROW.match(line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def _has(name: str) -> bool:
    owner, _, attr = name.partition(".")
    obj = getattr(tether, owner, None)
    if obj is None or not attr:
        return obj is not None
    try:
        inspect.getattr_static(obj, attr)  # without calling properties that need a launched DBOS
    except AttributeError:
        return False
    return True


def test_every_dbos_name_has_a_row_with_a_verdict() -> None:
    rows = _rows()
    missing = [n for n in DBOS_ALL + DBOS_MEMBERS if n not in rows]
    assert not missing, f"docs/compatibility.md has no row for {missing}"
    for name in DBOS_ALL + DBOS_MEMBERS:
        assert rows[name].startswith(("same", "differs: ", "not supported: ")), (name, rows[name])


def test_not_supported_exactly_where_tether_lacks_the_name() -> None:
    rows = _rows()
    for name in DBOS_ALL + DBOS_MEMBERS:
        absent = not _has(name)
        assert absent == rows[name].startswith("not supported"), (name, rows[name])


def test_config_keys_without_effect_are_documented() -> None:
    text = DOC.read_text()
    for key in IGNORED_KEYS:
        assert f"| `{key}` | no effect: " in text, key


def _signature(name: str) -> inspect.Signature | None:
    owner, _, attr = name.partition(".")
    obj = getattr(tether, owner, None)
    if obj is not None and attr:
        try:
            obj = inspect.getattr_static(obj, attr)
        except AttributeError:
            return None
        obj = getattr(obj, "__func__", getattr(obj, "func", obj))  # classmethod, staticmethod, api.binding._either
    return inspect.signature(obj) if callable(obj) else None


def test_every_parameter_dbos_takes_is_taken_unless_the_row_says_it_differs() -> None:
    # A DBOS 3.4 call that passes a parameter by name works unchanged, or the row of docs/compatibility.md
    # names the parameter in a "differs" or "not supported" verdict.
    rows = _rows()
    missing = []
    for name, params in DBOS_PARAMETERS.items():
        sig = _signature(name)
        if sig is None:
            continue  # not offered: test_not_supported_exactly_where_tether_lacks_the_name covers it
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            continue
        row = rows.get(name, rows.get(name.partition(".")[0], ""))
        for param in params.split():
            explained = not row.startswith("same") and f"`{param}`" in row
            if param not in sig.parameters and not explained:
                missing.append(f"{name}({param}=)")
    assert not missing, f"DBOS 3.4 takes these, Tether does not, and docs/compatibility.md does not say so: {missing}"
