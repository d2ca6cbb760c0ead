-- SQLite statements of the Tether store, by name. Parameters are :named.

-- name: insert_workflow
INSERT INTO workflow_status (
    workflow_uuid, status, name, class_name, config_name, authenticated_user, inputs, output, error,
    executor_id, application_version, application_id, created_at, created_at_us, updated_at, recovery_attempts,
    queue_name, deduplication_id, priority, delay_until_epoch_ms, started_at_epoch_ms, started_at_us,
    workflow_timeout_ms, workflow_deadline_epoch_ms, parent_workflow_id, forked_from, serialization,
    schedule_name, is_debounced, debounce_deadline_epoch_ms, queue_partition_key, attributes, completed_at,
    completed_at_us, was_forked_from, application_name, owner_process, trace_context, authenticated_roles,
    assumed_role)
VALUES (
    :workflow_uuid, :status, :name, :class_name, :config_name, :authenticated_user, :inputs, :output, :error,
    :executor_id, :application_version, :application_id, :created_at, :created_at_us, :updated_at,
    :recovery_attempts, :queue_name, :deduplication_id, :priority, :delay_until_epoch_ms, :started_at_epoch_ms,
    :started_at_us, :workflow_timeout_ms, :workflow_deadline_epoch_ms, :parent_workflow_id, :forked_from,
    :serialization, :schedule_name, :is_debounced, :debounce_deadline_epoch_ms, :queue_partition_key,
    :attributes, :completed_at, :completed_at_us, :was_forked_from, :application_name, :owner_process,
    :trace_context, :authenticated_roles, :assumed_role)
ON CONFLICT (workflow_uuid) DO NOTHING

-- name: complete_workflow
-- As in DBOS, a workflow that ends gives up its deduplication ID (so its status shows none).
UPDATE workflow_status SET status = :status, output = :output, error = :error, updated_at = :now,
    completed_at = :now, completed_at_us = :now_us, deduplication_id = NULL,
    unread_messages_at_end = (SELECT count(*) FROM messages WHERE destination_uuid = :workflow_uuid)
WHERE workflow_uuid = :workflow_uuid AND status = 'PENDING'

-- name: insert_operation
INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error, child_workflow_id,
                               started_at, completed_at, wait_deadline)
VALUES (:workflow_uuid, :function_id, :function_name, :output, :error, :child_workflow_id,
        :started_at, :completed_at, :wait_deadline)
ON CONFLICT (workflow_uuid, function_id) DO UPDATE SET
    output = excluded.output, error = excluded.error, child_workflow_id = excluded.child_workflow_id,
    completed_at = excluded.completed_at,
    wait_deadline = coalesce(operation_outputs.wait_deadline, excluded.wait_deadline)
WHERE operation_outputs.completed_at IS NULL AND excluded.completed_at IS NOT NULL

-- name: get_operation
SELECT function_id, function_name, output, error, child_workflow_id, started_at, completed_at, wait_deadline
FROM operation_outputs WHERE workflow_uuid = :workflow_uuid AND function_id = :function_id

-- name: load_operations
SELECT function_id, function_name, output, error, child_workflow_id, started_at, completed_at, wait_deadline
FROM operation_outputs WHERE workflow_uuid = :workflow_uuid ORDER BY function_id
LIMIT :limit OFFSET :offset

-- name: copy_operations
INSERT INTO operation_outputs (workflow_uuid, function_id, function_name, output, error, child_workflow_id,
                               started_at, completed_at, wait_deadline)
SELECT :target_id, function_id, function_name, output, error, child_workflow_id, started_at, completed_at,
       wait_deadline
FROM operation_outputs WHERE workflow_uuid = :source_id AND function_id < :before_function_id

-- name: workflow_exists
SELECT 1 FROM workflow_status WHERE workflow_uuid = :workflow_uuid

-- name: claim_message_key
INSERT INTO message_keys (destination_uuid, idempotency_key) VALUES (:destination_uuid, :idempotency_key)
ON CONFLICT DO NOTHING

-- name: insert_message
INSERT INTO messages (destination_uuid, topic, message, idempotency_key, created_at)
VALUES (:destination_uuid, :topic, :message, :idempotency_key, :now)

-- name: oldest_message
SELECT message_id, message FROM messages
WHERE destination_uuid = :workflow_uuid AND topic = :topic ORDER BY message_id LIMIT 1

-- name: delete_message
DELETE FROM messages WHERE message_id = :message_id


-- name: pending_messages
-- Mailboxes: the messages still queued for a workflow, served by messages_destination_topic
-- (destination_uuid, topic, message_id) in index order; the value only when load_values is 1.
SELECT message_id, topic, created_at, length(message), idempotency_key,
       CASE WHEN :load_values = 1 THEN message END
FROM messages WHERE destination_uuid = :workflow_uuid
ORDER BY topic, message_id LIMIT :limit OFFSET :offset

-- name: pending_messages_topic
SELECT message_id, topic, created_at, length(message), idempotency_key,
       CASE WHEN :load_values = 1 THEN message END
FROM messages WHERE destination_uuid = :workflow_uuid AND topic = :topic
ORDER BY message_id LIMIT :limit OFFSET :offset

-- name: pending_message_counts
SELECT topic, count(*) FROM messages WHERE destination_uuid = :workflow_uuid GROUP BY topic ORDER BY topic

-- name: upsert_event
-- The event's latest value, one version on (a trigger keeps the version in workflow_event_versions).
INSERT INTO workflow_events (workflow_uuid, key, value, updated_at, version, function_id)
VALUES (:workflow_uuid, :key, :value, :now, 1, :function_id)
ON CONFLICT (workflow_uuid, key) DO UPDATE
SET value = excluded.value, updated_at = excluded.updated_at, version = workflow_events.version + 1,
    function_id = excluded.function_id

-- name: import_event
-- tether import-dbos: an event at its latest version (its versions are imported first).
INSERT INTO workflow_events (workflow_uuid, key, value, updated_at, version)
VALUES (:workflow_uuid, :key, :value, :now, :version)

-- name: import_event_version
INSERT INTO workflow_event_versions (workflow_uuid, key, version, function_id, value, created_at)
VALUES (:workflow_uuid, :key, :version, :function_id, :value, :now)

-- name: get_event_version
SELECT value, version, updated_at FROM workflow_events WHERE workflow_uuid = :workflow_uuid AND key = :key

-- name: read_event_versions
-- The workflow's status and the versions of a key from :from_version on, in one snapshot: when the status is
-- terminal here, every version the workflow set is among the rows (no row at all: no such workflow).
SELECT w.status, v.version, v.value, v.created_at
FROM workflow_status w
LEFT JOIN workflow_event_versions v
    ON v.workflow_uuid = w.workflow_uuid AND v.key = :key AND v.version >= :from_version
WHERE w.workflow_uuid = :workflow_uuid
ORDER BY v.version LIMIT :limit

-- name: get_event
SELECT value FROM workflow_events WHERE workflow_uuid = :workflow_uuid AND key = :key

-- name: get_all_events
SELECT key, value FROM workflow_events WHERE workflow_uuid = :workflow_uuid ORDER BY key

-- name: stream_tail
SELECT seq, value IS NULL FROM streams WHERE workflow_uuid = :workflow_uuid AND key = :key
ORDER BY seq DESC LIMIT 1

-- name: insert_stream
-- A step write whose (step, value, occurrence) is already stored inserts nothing (rowcount 0).
INSERT INTO streams (workflow_uuid, key, seq, value, created_at, function_id, write_digest, write_index)
VALUES (:workflow_uuid, :key, :seq, :value, :now, :step_function_id, :write_digest, :write_index)
ON CONFLICT (workflow_uuid, key, function_id, write_digest, write_index) WHERE function_id IS NOT NULL
DO NOTHING

-- name: stream_step_write
-- The offset of a step call's write_index-th write of this value to the key, if any attempt made it.
SELECT seq FROM streams
WHERE workflow_uuid = :workflow_uuid AND key = :key AND function_id = :step_function_id
  AND write_digest = :write_digest AND write_index = :write_index

-- name: read_stream
SELECT seq, value FROM streams WHERE workflow_uuid = :workflow_uuid AND key = :key AND seq >= :from_seq
ORDER BY seq LIMIT :limit

-- name: list_streams
SELECT key, count(value), max(CASE WHEN value IS NULL THEN 1 ELSE 0 END) FROM streams
WHERE workflow_uuid = :workflow_uuid GROUP BY key ORDER BY key

-- name: recheck_messages
-- The safety net against a lost wake-up (engine/runtime.py::recheck_waiters), one statement for many parked
-- waiters: of :wants, a JSON array of [workflow, key, mark], the entries whose workflow has a message queued
-- on that topic, or (mark > 0: a recv's function_id) whose recv was recorded by a hand-off that notified
-- nobody (engine/handoff.py). The same for the three statements below: an event set (at version >= mark); a
-- stream value at offset >= mark; the workflow existing (mark 0) or ended (mark 1). json_extract rather than ->>, which SQLite has only
-- since 3.38 (Ubuntu 22.04's Python has 3.37: there every pass failed, and no lost wake-up was repaired).
SELECT json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'), json_extract(w.value, '$[2]')
FROM json_each(:wants) AS w
WHERE EXISTS (SELECT 1 FROM messages m WHERE m.destination_uuid = json_extract(w.value, '$[0]')
                                         AND m.topic = json_extract(w.value, '$[1]'))
   OR (json_extract(w.value, '$[2]') > 0
       AND EXISTS (SELECT 1 FROM operation_outputs o WHERE o.workflow_uuid = json_extract(w.value, '$[0]')
                   AND o.function_id = json_extract(w.value, '$[2]') AND o.completed_at IS NOT NULL))

-- name: recheck_events
-- The mark is the version waited for: 0 (any, a get_event) or the next one a watcher has not seen.
SELECT json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'), json_extract(w.value, '$[2]')
FROM json_each(:wants) AS w
WHERE EXISTS (SELECT 1 FROM workflow_events e WHERE e.workflow_uuid = json_extract(w.value, '$[0]')
                                                AND e.key = json_extract(w.value, '$[1]')
                                                AND e.version >= json_extract(w.value, '$[2]'))

-- name: recheck_streams
SELECT json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'), json_extract(w.value, '$[2]')
FROM json_each(:wants) AS w
WHERE EXISTS (SELECT 1 FROM streams s WHERE s.workflow_uuid = json_extract(w.value, '$[0]')
                                        AND s.key = json_extract(w.value, '$[1]')
                                        AND s.seq >= json_extract(w.value, '$[2]'))

-- name: recheck_workflows
SELECT json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'), json_extract(w.value, '$[2]')
FROM json_each(:wants) AS w
WHERE EXISTS (SELECT 1 FROM workflow_status s WHERE s.workflow_uuid = json_extract(w.value, '$[0]')
              AND (json_extract(w.value, '$[2]') = 0
                   OR s.status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')))

-- name: workflow_status_only
SELECT status FROM workflow_status WHERE workflow_uuid = :workflow_uuid

-- name: wakeups_after
SELECT id, kind, wfid, key FROM wakeups WHERE id > :after ORDER BY id LIMIT 5000

-- name: wakeups_max
SELECT coalesce(max(id), 0) FROM wakeups

-- name: wakeups_trim
DELETE FROM wakeups WHERE at < :before

-- Queues and delays --------------------------------------------------------------------------------------

-- name: queue_lock
SELECT 1  -- BEGIN IMMEDIATE already serializes writers

-- name: queue_running
SELECT count(*), coalesce(sum(CASE WHEN executor_id = :executor_id THEN 1 ELSE 0 END), 0)
FROM workflow_status WHERE queue_name = :queue_name AND status = 'PENDING'

-- name: queue_started_since
SELECT count(*) FROM workflow_status WHERE queue_name = :queue_name AND started_at_epoch_ms >= :since

-- name: queue_candidates_fifo
SELECT workflow_uuid FROM workflow_status
WHERE queue_name = :queue_name AND status = 'ENQUEUED'
  AND (application_version IS NULL OR application_version = '' OR application_version = :app_version)
ORDER BY created_at, workflow_uuid LIMIT :limit

-- name: queue_candidates_priority
SELECT workflow_uuid FROM workflow_status
WHERE queue_name = :queue_name AND status = 'ENQUEUED'
  AND (application_version IS NULL OR application_version = '' OR application_version = :app_version)
ORDER BY priority, created_at, workflow_uuid LIMIT :limit

-- name: queue_claim
UPDATE workflow_status
SET status = 'PENDING', executor_id = :executor_id, owner_process = :owner_process, started_at_epoch_ms = :now,
    started_at_us = :now_us, updated_at = :now,
    recovery_attempts = recovery_attempts + 1,  -- executions are counted, the first one included (as DBOS)
    -- a queued workflow's timeout counts from its dequeue
    workflow_deadline_epoch_ms = CASE WHEN workflow_timeout_ms IS NOT NULL AND workflow_deadline_epoch_ms IS NULL
                                      THEN :now + workflow_timeout_ms ELSE workflow_deadline_epoch_ms END,
    application_version = CASE WHEN application_version IS NULL OR application_version = ''
                               THEN :app_version ELSE application_version END
WHERE workflow_uuid = :workflow_uuid AND status = 'ENQUEUED'

-- name: due_delayed
SELECT workflow_uuid FROM workflow_status
WHERE status = 'DELAYED' AND delay_until_epoch_ms <= :now ORDER BY delay_until_epoch_ms LIMIT :limit

-- The promotions re-check the delay in the same statement: a delay moved back after the runner read the
-- workflow as due keeps it DELAYED.
-- name: promote_delayed_enqueue
UPDATE workflow_status SET status = 'ENQUEUED', updated_at = :now, completed_at = NULL, completed_at_us = NULL
WHERE workflow_uuid = :workflow_uuid AND status = 'DELAYED' AND delay_until_epoch_ms <= :now

-- name: promote_delayed_start
UPDATE workflow_status
SET status = 'PENDING', executor_id = :executor_id, started_at_epoch_ms = :now, started_at_us = :now_us,
    updated_at = :now, completed_at = NULL, completed_at_us = NULL, recovery_attempts = recovery_attempts + 1,
    application_version = CASE WHEN application_version IS NULL OR application_version = ''
                               THEN :app_version ELSE application_version END
WHERE workflow_uuid = :workflow_uuid AND status = 'DELAYED' AND delay_until_epoch_ms <= :now

-- name: next_delay
SELECT min(delay_until_epoch_ms) FROM workflow_status WHERE status = 'DELAYED' AND delay_until_epoch_ms > :after

-- name: set_delay
UPDATE workflow_status SET delay_until_epoch_ms = :delay_until, updated_at = :now
WHERE workflow_uuid = :workflow_uuid AND status = 'DELAYED'

-- Schedules -----------------------------------------------------------------------------------------------
-- name: insert_schedule
INSERT INTO workflow_schedules (
    schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, status, context, last_fired_at,
    last_fired_ms, automatic_backfill, cron_timezone, queue_name, updated_at, application_name)
VALUES (
    :schedule_id, :schedule_name, :workflow_name, :workflow_class_name, :schedule, :status, :context, :last_fired_at,
    :last_fired_ms, :automatic_backfill, :cron_timezone, :queue_name, :updated_at, :application_name)
ON CONFLICT (schedule_name) DO NOTHING

-- name: replace_schedule
INSERT INTO workflow_schedules (
    schedule_id, schedule_name, workflow_name, workflow_class_name, schedule, status, context, last_fired_at,
    last_fired_ms, automatic_backfill, cron_timezone, queue_name, updated_at, application_name)
VALUES (
    :schedule_id, :schedule_name, :workflow_name, :workflow_class_name, :schedule, :status, :context, :last_fired_at,
    :last_fired_ms, :automatic_backfill, :cron_timezone, :queue_name, :updated_at, :application_name)
ON CONFLICT (schedule_name) DO UPDATE SET
    workflow_name = excluded.workflow_name, workflow_class_name = excluded.workflow_class_name,
    schedule = excluded.schedule, context = excluded.context, automatic_backfill = excluded.automatic_backfill,
    cron_timezone = excluded.cron_timezone, queue_name = excluded.queue_name, updated_at = excluded.updated_at,
    application_name = COALESCE(workflow_schedules.application_name, excluded.application_name)
-- A writer that names no application keeps the owner; one that names another application than the owner is
-- refused (no row changes), as DBOS 3.4 refuses it.
WHERE workflow_schedules.application_name IS NULL OR excluded.application_name IS NULL
   OR workflow_schedules.application_name = excluded.application_name

-- name: schedule_owner
SELECT application_name FROM workflow_schedules WHERE schedule_name = :schedule_name

-- name: set_schedule_status
UPDATE workflow_schedules SET status = :status, updated_at = :now WHERE schedule_name = :schedule_name

-- name: delete_schedule
DELETE FROM workflow_schedules WHERE schedule_name = :schedule_name

-- name: record_tick
UPDATE workflow_schedules SET last_fired_at = :fired_at, last_fired_ms = :fired_ms
WHERE schedule_name = :schedule_name AND (last_fired_ms IS NULL OR last_fired_ms < :fired_ms)

-- Schedule changes wake every process's scheduler (in the writing transaction, so nobody wakes early).
-- name: notify_schedules
INSERT INTO wakeups (kind, wfid, key) VALUES ('sched', '*', '')

-- Debounce: push back the DELAYED debounced holder of a key (never past its deadline) with new inputs.
-- name: debounce_push
UPDATE workflow_status SET inputs = :inputs, updated_at = :now,
    delay_until_epoch_ms = CASE
        WHEN debounce_deadline_epoch_ms IS NOT NULL AND debounce_deadline_epoch_ms < :delay_until
        THEN debounce_deadline_epoch_ms ELSE :delay_until END
WHERE queue_name = :queue_name AND deduplication_id = :deduplication_id AND status = 'DELAYED'
    AND is_debounced = 1 AND name = :name
RETURNING workflow_uuid

-- name: dedup_holder
SELECT workflow_uuid, is_debounced, name FROM workflow_status
WHERE queue_name = :queue_name AND deduplication_id = :deduplication_id
    AND status IN ('ENQUEUED', 'PENDING', 'DELAYED')
-- Partitioned queues and the queue registry ---------------------------------------------------------------

-- name: queue_partition_loads
SELECT queue_partition_key,
       coalesce(sum(CASE WHEN status = 'ENQUEUED' THEN 1 ELSE 0 END), 0),
       coalesce(sum(CASE WHEN status = 'PENDING' THEN 1 ELSE 0 END), 0),
       coalesce(sum(CASE WHEN status = 'PENDING' AND executor_id = :executor_id THEN 1 ELSE 0 END), 0),
       coalesce(sum(CASE WHEN started_at_epoch_ms >= :since THEN 1 ELSE 0 END), 0)
FROM workflow_status
WHERE queue_name = :queue_name AND (status IN ('ENQUEUED', 'PENDING') OR started_at_epoch_ms >= :since)
GROUP BY queue_partition_key

-- name: queue_candidates_partition
SELECT workflow_uuid FROM workflow_status
WHERE queue_name = :queue_name AND queue_partition_key = :partition AND status = 'ENQUEUED'
  AND (application_version IS NULL OR application_version = '' OR application_version = :app_version)
ORDER BY priority, created_at, workflow_uuid LIMIT :limit

-- name: queue_candidates_no_partition
SELECT workflow_uuid FROM workflow_status
WHERE queue_name = :queue_name AND queue_partition_key IS NULL AND status = 'ENQUEUED'
  AND (application_version IS NULL OR application_version = '' OR application_version = :app_version)
ORDER BY priority, created_at, workflow_uuid LIMIT :limit

-- name: deduplicated_workflow
SELECT workflow_uuid FROM workflow_status
WHERE queue_name = :queue_name AND deduplication_id = :deduplication_id
  AND status IN ('ENQUEUED', 'PENDING', 'DELAYED')

-- name: queue_get
SELECT name, concurrency, worker_concurrency, rate_limit, rate_period_ms, partition_concurrency,
       partition_worker_concurrency, partition_rate_limit, partition_rate_period_ms, polling_interval_ms,
       application_name, application_version
FROM queues WHERE name = :name

-- name: queue_list
SELECT name, concurrency, worker_concurrency, rate_limit, rate_period_ms, partition_concurrency,
       partition_worker_concurrency, partition_rate_limit, partition_rate_period_ms, polling_interval_ms,
       application_name, application_version
FROM queues ORDER BY name

-- name: queue_insert
INSERT INTO queues (name, concurrency, worker_concurrency, rate_limit, rate_period_ms, partition_concurrency,
                    partition_worker_concurrency, partition_rate_limit, partition_rate_period_ms,
                    polling_interval_ms, application_name, application_version, created_at, updated_at)
VALUES (:name, :concurrency, :worker_concurrency, :rate_limit, :rate_period_ms, :partition_concurrency,
        :partition_worker_concurrency, :partition_rate_limit, :partition_rate_period_ms,
        :polling_interval_ms, :application_name, :application_version, :now, :now)
ON CONFLICT (name) DO NOTHING

-- name: queue_replace
UPDATE queues SET concurrency = :concurrency, worker_concurrency = :worker_concurrency,
    rate_limit = :rate_limit, rate_period_ms = :rate_period_ms, partition_concurrency = :partition_concurrency,
    partition_worker_concurrency = :partition_worker_concurrency, partition_rate_limit = :partition_rate_limit,
    partition_rate_period_ms = :partition_rate_period_ms, polling_interval_ms = :polling_interval_ms,
    application_name = coalesce(application_name, :application_name),
    application_version = :application_version, updated_at = :now
WHERE name = :name

-- name: queue_delete
DELETE FROM queues WHERE name = :name


-- Application versions (storage/versionstore.py). An application sees its own versions and the unclaimed
-- ones; a NULL :application_name sees every version.
-- name: version_insert
INSERT INTO application_versions (version_id, version_name, version_timestamp, created_at, application_name)
VALUES (:version_id, :version_name, :now, :now, :application_name)
ON CONFLICT (version_name) DO NOTHING

-- name: version_claim
UPDATE application_versions SET application_name = :application_name
WHERE version_name = :version_name AND application_name IS NULL

-- name: version_get
SELECT version_id, version_name, version_timestamp, created_at, application_name
FROM application_versions WHERE version_name = :version_name

-- name: version_list
SELECT version_id, version_name, version_timestamp, created_at, application_name FROM application_versions
WHERE CAST(:application_name AS TEXT) IS NULL OR application_name IS NULL
   OR application_name = CAST(:application_name AS TEXT)
ORDER BY version_timestamp DESC, version_name DESC

-- name: version_newest_timestamp
SELECT max(version_timestamp) FROM application_versions

-- name: version_promote
UPDATE application_versions SET version_timestamp = :now, application_name = :application_name
WHERE version_name = :version_name

-- name: mark_forked
UPDATE workflow_status SET was_forked_from = 1 WHERE workflow_uuid = :workflow_uuid

-- name: attributes_for_update
SELECT attributes FROM workflow_status WHERE workflow_uuid = :workflow_uuid

-- name: set_attributes
UPDATE workflow_status SET attributes = :attributes WHERE workflow_uuid = :workflow_uuid

-- name: replace_child
UPDATE operation_outputs SET child_workflow_id = :new
WHERE workflow_uuid = :workflow_uuid AND child_workflow_id = :old

-- name: copy_event_history
-- A fork keeps the versions set before its start step, with their numbers.
INSERT INTO workflow_event_versions (workflow_uuid, key, version, function_id, value, created_at)
SELECT :target_id, key, version, function_id, value, created_at FROM workflow_event_versions
WHERE workflow_uuid = :source_id AND function_id < :before_function_id

-- name: restore_events
-- The events of a fork: each key's last version set before the fork's start step.
INSERT INTO workflow_events (workflow_uuid, key, value, updated_at, version)
SELECT :target_id, h.key, h.value, :now, h.version FROM workflow_event_versions h
WHERE h.workflow_uuid = :source_id AND h.version = (
    SELECT max(h2.version) FROM workflow_event_versions h2
    WHERE h2.workflow_uuid = :source_id AND h2.key = h.key AND h2.function_id < :before_function_id)

-- name: fork_tree
-- A workflow and every workflow forked from it, directly or not.
WITH RECURSIVE tree(id) AS (
    SELECT CAST(:workflow_uuid AS TEXT)
    UNION
    SELECT w.workflow_uuid FROM workflow_status w JOIN tree t ON w.forked_from = t.id
)
SELECT id FROM tree

-- name: rewind_events
DELETE FROM workflow_events WHERE workflow_uuid = :workflow_uuid AND key IN (
    SELECT key FROM workflow_event_versions WHERE workflow_uuid = :workflow_uuid AND function_id >= :cut)

-- name: rewind_restore_events
-- Each key set from the cut on goes back to its last version set before the cut.
INSERT INTO workflow_events (workflow_uuid, key, value, updated_at, version)
SELECT h.workflow_uuid, h.key, h.value, :now, h.version FROM workflow_event_versions h
WHERE h.workflow_uuid = :workflow_uuid AND h.function_id < :cut
  AND h.key IN (SELECT key FROM workflow_event_versions WHERE workflow_uuid = :workflow_uuid AND function_id >= :cut)
  AND h.version = (SELECT max(h2.version) FROM workflow_event_versions h2
                   WHERE h2.workflow_uuid = :workflow_uuid AND h2.key = h.key AND h2.function_id < :cut)

-- name: rewind_stream_closes
DELETE FROM streams WHERE workflow_uuid = :workflow_uuid AND value IS NULL

-- name: rewind_stream_steps
-- Steps from the cut on run again as new calls: their earlier writes stay, but no longer stand for theirs.
UPDATE streams SET function_id = NULL, write_digest = NULL, write_index = NULL
WHERE workflow_uuid = :workflow_uuid AND function_id >= :cut

-- name: rewind_operations
DELETE FROM operation_outputs WHERE workflow_uuid = :workflow_uuid AND function_id >= :cut

-- name: rewind_event_history
DELETE FROM workflow_event_versions WHERE workflow_uuid = :workflow_uuid AND function_id >= :cut

-- name: rewind_messages
DELETE FROM messages WHERE destination_uuid = :workflow_uuid

-- name: rewind_requeue
UPDATE workflow_status
SET status = 'ENQUEUED', queue_name = :queue_name,
    application_version = coalesce(CAST(:application_version AS TEXT), application_version),
    recovery_attempts = 0, workflow_deadline_epoch_ms = NULL, deduplication_id = NULL,
    started_at_epoch_ms = NULL, started_at_us = NULL, updated_at = :now, completed_at = NULL,
    completed_at_us = NULL, output = NULL, error = NULL,
    unread_messages_at_end = NULL
WHERE workflow_uuid = :workflow_uuid AND status = :status

-- Processes and ownership --------------------------------------------------------------------------------

-- name: register_process
INSERT INTO processes (process_id, executor_id, app_name, application_version, hostname, pid, machine,
                       pid_started, started_at, heartbeat_at, timeout_ms, stopped_at)
VALUES (:process_id, :executor_id, :app_name, :application_version, :hostname, :pid, :machine,
        :pid_started, :started_at, :heartbeat_at, :timeout_ms, :stopped_at)

-- name: list_processes
SELECT process_id, executor_id, app_name, application_version, hostname, pid, machine, pid_started,
       started_at, heartbeat_at, timeout_ms, stopped_at
FROM processes ORDER BY started_at, process_id

-- name: heartbeat
UPDATE processes SET heartbeat_at = :now WHERE process_id = :process_id AND stopped_at IS NULL

-- name: delete_idle_process
DELETE FROM processes WHERE process_id = :process_id AND NOT EXISTS (
    SELECT 1 FROM workflow_status WHERE owner_process = :process_id AND status = 'PENDING')

-- name: mark_process_stopped
UPDATE processes SET stopped_at = :now WHERE process_id = :process_id

-- name: adopt_delete_process
DELETE FROM processes WHERE process_id = :process_id AND heartbeat_at = :heartbeat_at

-- name: adopt_requeue
UPDATE workflow_status
SET status = 'ENQUEUED', owner_process = NULL, started_at_epoch_ms = NULL, started_at_us = NULL,
    updated_at = :now
WHERE owner_process = :process_id AND status = 'PENDING' AND queue_name IS NOT NULL
RETURNING workflow_uuid

-- name: adopt_take
UPDATE workflow_status SET owner_process = :owner_process, executor_id = :executor_id, updated_at = :now
WHERE owner_process = :process_id AND status = 'PENDING'
RETURNING workflow_uuid

-- name: owned_pending
SELECT workflow_uuid FROM workflow_status WHERE owner_process = :process_id AND status = 'PENDING'

-- name: run_state
SELECT status, owner_process FROM workflow_status WHERE workflow_uuid = :workflow_uuid

-- name: import_unread_at_end
-- tether import-dbos: how many messages a workflow that had ended in DBOS left unread (as complete_workflow sets it).
UPDATE workflow_status SET unread_messages_at_end = :unread WHERE workflow_uuid = :workflow_uuid

-- name: queue_loads
-- The dashboard: how many workflows each queue holds that have not ended, by status (served by the status
-- index: only unfinished workflows are read, however many the table holds).
SELECT queue_name, status, count(*) FROM workflow_status
WHERE status IN ('ENQUEUED', 'PENDING', 'DELAYED') AND queue_name IS NOT NULL
GROUP BY queue_name, status ORDER BY queue_name, status

-- Renaming an application (DBOSClient.rename_application): rows owned by :old (and, with :adopt, unclaimed
-- ones) move to :new. Workflows that have not ended move with the registry rows in one transaction; ended
-- ones after it, :batch at a time.
-- name: rename_source_steps
SELECT count(*) FROM operation_outputs o JOIN workflow_status w ON w.workflow_uuid = o.workflow_uuid
WHERE w.application_name = :old OR (:adopt AND w.application_name IS NULL)

-- name: rename_queues
UPDATE queues SET application_name = :new
WHERE application_name = :old OR (:adopt AND application_name IS NULL)

-- name: rename_schedules
UPDATE workflow_schedules SET application_name = :new
WHERE application_name = :old OR (:adopt AND application_name IS NULL)

-- name: rename_versions
UPDATE application_versions SET application_name = :new
WHERE application_name = :old OR (:adopt AND application_name IS NULL)

-- name: rename_active_workflows
UPDATE workflow_status SET application_name = :new
WHERE (application_name = :old OR (:adopt AND application_name IS NULL))
  AND status IN ('PENDING', 'ENQUEUED', 'DELAYED')

-- name: rename_ended_workflows
UPDATE workflow_status SET application_name = :new
WHERE workflow_uuid IN (SELECT workflow_uuid FROM workflow_status
                        WHERE application_name = :old OR (:adopt AND application_name IS NULL)
                        LIMIT :batch)

-- name: workflow_identity
SELECT status, name, class_name, config_name FROM workflow_status WHERE workflow_uuid = :workflow_uuid
