"""The parameter names of DBOS 3.4's public callables, read once from ``dbos==3.4.0`` with ``inspect.signature``
(``self``/``cls`` and ``*args``/``**kwargs`` left out): the members listed in ``test_compatibility.py``, the
constructors of ``DBOS``, ``DBOSClient``, ``Queue``, ``DebouncerClient`` and the context blocks, and
``Debouncer.create``, and the methods of the two serializers. Members without parameters are left out.
"""

from __future__ import annotations

DBOS_PARAMETERS = {
    "DBOS.alert_handler": "func",
    "DBOS.apply_schedules": "schedules",
    "DBOS.apply_schedules_async": "schedules",
    "DBOS.asyncio_wait": "fs timeout return_when",
    "DBOS.backfill_schedule": "schedule_name start end",
    "DBOS.cancel_workflow": "workflow_id cancel_children shard_key",
    "DBOS.cancel_workflow_async": "workflow_id cancel_children shard_key",
    "DBOS.cancel_workflows": "workflow_ids cancel_children shard_key",
    "DBOS.cancel_workflows_async": "workflow_ids cancel_children shard_key",
    "DBOS.close_stream": "key",
    "DBOS.close_stream_async": "key",
    "DBOS.create_schedule": (
        "schedule_name workflow_fn schedule context automatic_backfill cron_timezone queue_name shard_key"
    ),
    "DBOS.create_schedule_async": (
        "schedule_name workflow_fn schedule context automatic_backfill cron_timezone queue_name shard_key"
    ),
    "DBOS.dbos_class": "class_name",
    "DBOS.default_required_roles": "roles",
    "DBOS.delete_queue": "name",
    "DBOS.delete_queue_async": "name",
    "DBOS.delete_schedule": "name",
    "DBOS.delete_schedule_async": "name",
    "DBOS.delete_workflow": "workflow_id delete_children shard_key",
    "DBOS.delete_workflow_async": "workflow_id delete_children shard_key",
    "DBOS.delete_workflows": "workflow_ids delete_children shard_key",
    "DBOS.delete_workflows_async": "workflow_ids delete_children shard_key",
    "DBOS.deprecate_patch": "patch_name",
    "DBOS.deprecate_patch_async": "patch_name",
    "DBOS.destroy": "destroy_registry workflow_completion_timeout_sec",
    "DBOS.enqueue_workflow": "queue_name func",
    "DBOS.enqueue_workflow_async": "queue_name func",
    "DBOS.enqueue_workflow_with_options": "options",
    "DBOS.enqueue_workflow_with_options_async": "options",
    "DBOS.fork_workflow": (
        "workflow_id start_step application_version queue_name queue_partition_key replacement_children "
        "timeout_seconds shard_key"
    ),
    "DBOS.fork_workflow_async": (
        "workflow_id start_step application_version queue_name queue_partition_key replacement_children "
        "timeout_seconds shard_key"
    ),
    "DBOS.get_all_events": "workflow_id shard_key",
    "DBOS.get_all_events_async": "workflow_id shard_key",
    "DBOS.get_event": "workflow_id key timeout_seconds shard_key",
    "DBOS.get_event_async": "workflow_id key timeout_seconds shard_key",
    "DBOS.get_result": "workflow_id shard_key",
    "DBOS.get_result_async": "workflow_id shard_key",
    "DBOS.get_schedule": "name",
    "DBOS.get_schedule_async": "name",
    "DBOS.get_workflow_status": "workflow_id shard_key",
    "DBOS.get_workflow_status_async": "workflow_id shard_key",
    "DBOS.kafka_consumer": "config topics ordering batch_size queue_name",
    "DBOS.list_queued_workflows": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id is_fork has_parent attributes application_name "
        "shard_key parent_shard_key"
    ),
    "DBOS.list_queued_workflows_async": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id is_fork has_parent attributes application_name "
        "shard_key parent_shard_key"
    ),
    "DBOS.list_queues": "application_name",
    "DBOS.list_queues_async": "application_name",
    "DBOS.list_schedules": "status workflow_name schedule_name_prefix application_name",
    "DBOS.list_schedules_async": "status workflow_name schedule_name_prefix application_name",
    "DBOS.list_workflow_steps": "workflow_id load_output limit offset shard_key",
    "DBOS.list_workflow_steps_async": "workflow_id load_output limit offset shard_key",
    "DBOS.list_workflows": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id queues_only was_forked_from is_fork has_parent "
        "attributes schedule_name application_name shard_key parent_shard_key"
    ),
    "DBOS.list_workflows_async": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id queues_only was_forked_from is_fork has_parent "
        "attributes schedule_name application_name shard_key parent_shard_key"
    ),
    "DBOS.listen_queues": "queues",
    "DBOS.migrate": "system_database_url schema application_role sharding",
    "DBOS.patch": "patch_name",
    "DBOS.patch_async": "patch_name",
    "DBOS.pause_schedule": "name",
    "DBOS.read_stream": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOS.read_stream_async": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOS.read_stream_offset": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOS.read_stream_offset_async": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOS.recv": "topic timeout_seconds",
    "DBOS.recv_async": "topic timeout_seconds",
    "DBOS.register_queue": (
        "name worker_concurrency global_concurrency partition_concurrency partition_worker_concurrency "
        "partition_limiter limiter polling_interval_sec on_conflict concurrency"
    ),
    "DBOS.register_queue_async": (
        "name worker_concurrency global_concurrency partition_concurrency partition_worker_concurrency "
        "partition_limiter limiter polling_interval_sec on_conflict concurrency"
    ),
    "DBOS.required_roles": "roles",
    "DBOS.reset_system_database": "system_database_url schema truncate",
    "DBOS.resume_schedule": "name",
    "DBOS.resume_workflow": "workflow_id queue_name shard_key",
    "DBOS.resume_workflow_async": "workflow_id queue_name shard_key",
    "DBOS.resume_workflows": "workflow_ids queue_name shard_key",
    "DBOS.resume_workflows_async": "workflow_ids queue_name shard_key",
    "DBOS.retrieve_queue": "name",
    "DBOS.retrieve_queue_async": "name",
    "DBOS.retrieve_workflow": "workflow_id existing_workflow shard_key",
    "DBOS.retrieve_workflow_async": "workflow_id existing_workflow shard_key",
    "DBOS.rewind_workflow": "workflow_id start_step application_version queue_name queue_partition_key shard_key",
    "DBOS.rewind_workflow_async": "workflow_id start_step application_version queue_name queue_partition_key shard_key",
    "DBOS.run_step": "dbos_step_options func",
    "DBOS.run_step_async": "dbos_step_options func",
    "DBOS.send": "destination_id message topic idempotency_key serialization_type send_to_forks shard_key",
    "DBOS.send_async": "destination_id message topic idempotency_key serialization_type send_to_forks shard_key",
    "DBOS.send_bulk": "messages serialization_type send_to_forks",
    "DBOS.send_bulk_async": "messages serialization_type send_to_forks",
    "DBOS.set_authentication": "authenticated_user authenticated_roles",
    "DBOS.set_event": "key value serialization_type",
    "DBOS.set_event_async": "key value serialization_type",
    "DBOS.set_latest_application_version": "version_name application_name",
    "DBOS.set_latest_application_version_async": "version_name application_name",
    "DBOS.set_workflow_delay": "workflow_id delay_seconds delay_until_epoch_ms shard_key",
    "DBOS.set_workflow_delay_async": "workflow_id delay_seconds delay_until_epoch_ms shard_key",
    "DBOS.sleep": "seconds",
    "DBOS.sleep_async": "seconds",
    "DBOS.start_workflow": "func",
    "DBOS.start_workflow_async": "func",
    "DBOS.step": (
        "name retries_allowed interval_seconds max_attempts backoff_rate should_retry preemptible timeout_seconds"
    ),
    "DBOS.trigger_schedule": "schedule_name",
    "DBOS.update_workflow_attributes": "workflow_id attributes merge shard_key",
    "DBOS.update_workflow_attributes_async": "workflow_id attributes merge shard_key",
    "DBOS.wait_first": "handles polling_interval_sec",
    "DBOS.wait_first_async": "handles polling_interval_sec",
    "DBOS.workflow": "name max_recovery_attempts serialization_type validate_args auto_upgrade",
    "DBOS.write_stream": "key value serialization_type",
    "DBOS.write_stream_async": "key value serialization_type",
    "DBOSClient.apply_schedules": "schedules",
    "DBOSClient.apply_schedules_async": "schedules",
    "DBOSClient.backfill_schedule": "schedule_name start end",
    "DBOSClient.cancel_workflow": "workflow_id cancel_children shard_key",
    "DBOSClient.cancel_workflow_async": "workflow_id cancel_children shard_key",
    "DBOSClient.cancel_workflows": "workflow_ids cancel_children shard_key",
    "DBOSClient.cancel_workflows_async": "workflow_ids cancel_children shard_key",
    "DBOSClient.create_schedule": (
        "schedule_name workflow_name schedule context workflow_class_name automatic_backfill cron_timezone "
        "queue_name application_name shard_key"
    ),
    "DBOSClient.create_schedule_async": (
        "schedule_name workflow_name schedule context workflow_class_name automatic_backfill cron_timezone "
        "queue_name application_name shard_key"
    ),
    "DBOSClient.delete_queue": "name",
    "DBOSClient.delete_queue_async": "name",
    "DBOSClient.delete_schedule": "name",
    "DBOSClient.delete_schedule_async": "name",
    "DBOSClient.delete_workflow": "workflow_id delete_children shard_key",
    "DBOSClient.delete_workflow_async": "workflow_id delete_children shard_key",
    "DBOSClient.delete_workflows": "workflow_ids delete_children shard_key",
    "DBOSClient.delete_workflows_async": "workflow_ids delete_children shard_key",
    "DBOSClient.enqueue": "options",
    "DBOSClient.enqueue_async": "options",
    "DBOSClient.enqueue_in_transaction": "conn_or_session options",
    "DBOSClient.fork_workflow": (
        "workflow_id start_step application_version queue_name queue_partition_key replacement_children "
        "timeout_seconds shard_key"
    ),
    "DBOSClient.fork_workflow_async": (
        "workflow_id start_step application_version queue_name queue_partition_key replacement_children "
        "timeout_seconds shard_key"
    ),
    "DBOSClient.get_event": "workflow_id key timeout_seconds shard_key",
    "DBOSClient.get_event_async": "workflow_id key timeout_seconds shard_key",
    "DBOSClient.get_schedule": "name",
    "DBOSClient.get_schedule_async": "name",
    "DBOSClient.list_queued_workflows": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id is_fork has_parent attributes application_name "
        "shard_key parent_shard_key"
    ),
    "DBOSClient.list_queued_workflows_async": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id is_fork has_parent attributes application_name "
        "shard_key parent_shard_key"
    ),
    "DBOSClient.list_queues": "application_name",
    "DBOSClient.list_queues_async": "application_name",
    "DBOSClient.list_schedules": "status workflow_name schedule_name_prefix application_name",
    "DBOSClient.list_schedules_async": "status workflow_name schedule_name_prefix application_name",
    "DBOSClient.list_workflow_steps": "workflow_id load_output limit offset shard_key",
    "DBOSClient.list_workflow_steps_async": "workflow_id load_output limit offset shard_key",
    "DBOSClient.list_workflows": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id queues_only was_forked_from is_fork has_parent "
        "attributes schedule_name application_name shard_key parent_shard_key"
    ),
    "DBOSClient.list_workflows_async": (
        "workflow_ids status start_time end_time completed_after completed_before dequeued_after dequeued_before "
        "name app_version forked_from parent_workflow_id user queue_name limit offset sort_desc "
        "workflow_id_prefix load_input load_output executor_id queues_only was_forked_from is_fork has_parent "
        "attributes schedule_name application_name shard_key parent_shard_key"
    ),
    "DBOSClient.pause_schedule": "name",
    "DBOSClient.read_stream": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOSClient.read_stream_async": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOSClient.read_stream_offset": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOSClient.read_stream_offset_async": "workflow_id key offset polling_interval_sec timeout_seconds shard_key",
    "DBOSClient.register_queue": (
        "name global_concurrency partition_concurrency partition_worker_concurrency partition_limiter limiter "
        "worker_concurrency polling_interval_sec on_conflict application_name concurrency"
    ),
    "DBOSClient.register_queue_async": (
        "name global_concurrency partition_concurrency partition_worker_concurrency partition_limiter limiter "
        "worker_concurrency polling_interval_sec on_conflict application_name concurrency"
    ),
    "DBOSClient.rename_application": "old_name new_name batch_size adopt_unclaimed_rows",
    "DBOSClient.rename_application_async": "old_name new_name batch_size adopt_unclaimed_rows",
    "DBOSClient.resume_schedule": "name",
    "DBOSClient.resume_workflow": "workflow_id queue_name shard_key",
    "DBOSClient.resume_workflow_async": "workflow_id queue_name shard_key",
    "DBOSClient.resume_workflows": "workflow_ids queue_name shard_key",
    "DBOSClient.resume_workflows_async": "workflow_ids queue_name shard_key",
    "DBOSClient.retrieve_queue": "name",
    "DBOSClient.retrieve_queue_async": "name",
    "DBOSClient.retrieve_workflow": "workflow_id shard_key",
    "DBOSClient.retrieve_workflow_async": "workflow_id shard_key",
    "DBOSClient.rewind_workflow": "workflow_id start_step application_version queue_name queue_partition_key shard_key",
    "DBOSClient.rewind_workflow_async": (
        "workflow_id start_step application_version queue_name queue_partition_key shard_key"
    ),
    "DBOSClient.send": "destination_id message topic idempotency_key serialization_type send_to_forks shard_key",
    "DBOSClient.send_async": "destination_id message topic idempotency_key serialization_type send_to_forks shard_key",
    "DBOSClient.send_bulk": "messages serialization_type send_to_forks",
    "DBOSClient.send_bulk_async": "messages serialization_type send_to_forks",
    "DBOSClient.send_bulk_in_transaction": "conn_or_session messages serialization_type send_to_forks",
    "DBOSClient.send_in_transaction": (
        "conn_or_session destination_id message topic idempotency_key serialization_type send_to_forks shard_key"
    ),
    "DBOSClient.set_latest_application_version": "version_name application_name",
    "DBOSClient.set_latest_application_version_async": "version_name application_name",
    "DBOSClient.set_workflow_delay": "workflow_id delay_seconds delay_until_epoch_ms shard_key",
    "DBOSClient.set_workflow_delay_async": "workflow_id delay_seconds delay_until_epoch_ms shard_key",
    "DBOSClient.trigger_schedule": "schedule_name",
    "DBOSClient.update_workflow_attributes": "workflow_id attributes merge shard_key",
    "DBOSClient.update_workflow_attributes_async": "workflow_id attributes merge shard_key",
    "DBOSClient.wait_first": "handles polling_interval_sec",
    "DBOSClient.wait_first_async": "handles polling_interval_sec",
    "Queue.enqueue": "func",
    "Queue.enqueue_async": "func",
    "Queue.set_concurrency": "value",
    "Queue.set_concurrency_async": "value",
    "Queue.set_global_concurrency": "value",
    "Queue.set_global_concurrency_async": "value",
    "Queue.set_limiter": "value",
    "Queue.set_limiter_async": "value",
    "Queue.set_partition_concurrency": "value",
    "Queue.set_partition_concurrency_async": "value",
    "Queue.set_partition_limiter": "value",
    "Queue.set_partition_limiter_async": "value",
    "Queue.set_partition_worker_concurrency": "value",
    "Queue.set_partition_worker_concurrency_async": "value",
    "Queue.set_polling_interval_sec": "value",
    "Queue.set_polling_interval_sec_async": "value",
    "Queue.set_worker_concurrency": "value",
    "Queue.set_worker_concurrency_async": "value",
    "WorkflowHandle.get_result": "polling_interval_sec",
    "WorkflowHandleAsync.get_result": "polling_interval_sec",
    "DBOS": "config conductor_url conductor_key",
    "DBOSClient": (
        "system_database_url system_database_engine dbos_system_schema serializer system_database_pool_size "
        "system_database_polling_concurrency use_listen_notify application_name lazy retry_connection_errors "
        "observability_query_timeout_sec sys_db_idle_transaction_timeout_sec sharding"
    ),
    "Queue": (
        "name concurrency limiter worker_concurrency global_concurrency partition_concurrency "
        "partition_worker_concurrency partition_limiter polling_interval_sec database_backed_queue "
        "client_system_database application_name token"
    ),
    "Debouncer.create": "workflow debounce_timeout_sec queue application_name",
    "DebouncerClient": "client workflow_options debounce_timeout_sec queue application_name",
    "SetWorkflowID": "wfid workflow_id_reuse_policy",
    "SetWorkflowTimeout": "workflow_timeout_sec",
    "SetEnqueueOptions": "deduplication_id priority app_version queue_partition_key delay_seconds duplication_policy",
    "SetWorkflowAttributes": "attributes",
    "DBOSPortableJSONSerializer.serialize": "value",
    "DBOSPortableJSONSerializer.deserialize": "text",
    "Serializer.serialize": "data",
    "Serializer.deserialize": "serialized_data",
}
