-- Reading a DBOS 3.4 system database (dbos==3.4.0, schema version 125), for `tether import-dbos`.
-- The same text runs on SQLite and on PostgreSQL (where search_path is set to DBOS's schema first, and the
-- :name parameters become %(name)s). Workflows are read in chunks by ID (:after, :limit), and everything else
-- for the IDs of one chunk (:lo to :hi), each by its primary key or DBOS's index, so memory stays bounded.
-- Inputs and outputs live in workflow_input / workflow_output since DBOS's migration 109; older rows kept them
-- in workflow_status, hence the COALESCE.

-- name: version
SELECT version FROM dbos_migrations

-- name: workflows
SELECT s.workflow_uuid, s.status, s.name, s.class_name, s.config_name, s.authenticated_user,
       COALESCE(i.inputs, s.inputs) AS inputs, COALESCE(o.output, s.output) AS output,
       COALESCE(o.error, s.error) AS error, s.executor_id, s.application_version, s.application_id,
       s.created_at, s.updated_at, s.recovery_attempts, s.queue_name, s.deduplication_id, s.priority,
       s.delay_until_epoch_ms, s.started_at_epoch_ms, s.workflow_timeout_ms, s.workflow_deadline_epoch_ms,
       s.parent_workflow_id, s.forked_from, s.serialization, s.schedule_name, s.is_debounced,
       s.debounce_deadline_epoch_ms, s.queue_partition_key, CAST(s.attributes AS TEXT) AS attributes,
       s.completed_at, s.was_forked_from, s.application_name, s.authenticated_roles, s.assumed_role
FROM workflow_status s
LEFT JOIN workflow_input i ON i.workflow_uuid = s.workflow_uuid
LEFT JOIN workflow_output o ON o.workflow_uuid = s.workflow_uuid
WHERE s.workflow_uuid > :after
ORDER BY s.workflow_uuid LIMIT :limit

-- name: operations
SELECT workflow_uuid, function_id, function_name, output, error, child_workflow_id, started_at_epoch_ms,
       completed_at_epoch_ms, serialization
FROM operation_outputs WHERE workflow_uuid >= :lo AND workflow_uuid <= :hi ORDER BY workflow_uuid, function_id

-- name: pending_messages
-- Unconsumed messages, in the order DBOS's recv takes them (oldest first; DBOS leaves ties unordered).
SELECT destination_uuid, topic, message, created_at_epoch_ms, serialization
FROM notifications WHERE NOT consumed AND destination_uuid >= :lo AND destination_uuid <= :hi
ORDER BY destination_uuid, created_at_epoch_ms, message_uuid

-- name: pending_messages_sqlite
-- On SQLite, rows of one millisecond (of one second before Python 3.12) keep the order they were sent in.
SELECT destination_uuid, topic, message, created_at_epoch_ms, serialization
FROM notifications WHERE NOT consumed AND destination_uuid >= :lo AND destination_uuid <= :hi
ORDER BY destination_uuid, created_at_epoch_ms, rowid

-- name: consumed_messages
SELECT count(*) FROM notifications WHERE consumed

-- name: events
SELECT workflow_uuid, key, value, serialization FROM workflow_events
WHERE workflow_uuid >= :lo AND workflow_uuid <= :hi ORDER BY workflow_uuid, key

-- name: event_history
SELECT workflow_uuid, function_id, key, value, serialization FROM workflow_events_history
WHERE workflow_uuid >= :lo AND workflow_uuid <= :hi ORDER BY workflow_uuid, function_id, key

-- name: streams
SELECT workflow_uuid, key, value, "offset", function_id, serialization FROM streams
WHERE workflow_uuid >= :lo AND workflow_uuid <= :hi ORDER BY workflow_uuid, key, "offset"

-- name: queues
SELECT name, concurrency, worker_concurrency, rate_limit_max, rate_limit_period_sec, partition_concurrency,
       partition_worker_concurrency, partition_rate_limit_max, partition_rate_limit_period_sec,
       polling_interval_sec, application_name, created_at, updated_at
FROM queues ORDER BY name

-- name: schedules
SELECT schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, status, context,
       last_fired_at, automatic_backfill, cron_timezone, queue_name, application_name
FROM workflow_schedules ORDER BY schedule_name

-- name: application_versions
SELECT count(*) FROM application_versions
