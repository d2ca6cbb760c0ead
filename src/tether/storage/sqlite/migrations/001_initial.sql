-- Tether system tables on SQLite. Times are Unix epoch milliseconds.
CREATE TABLE workflow_status (
    workflow_uuid        TEXT PRIMARY KEY,
    status               TEXT NOT NULL,
    name                 TEXT NOT NULL,
    class_name           TEXT,
    config_name          TEXT,
    authenticated_user   TEXT,
    inputs               BLOB,
    output               BLOB,
    error                BLOB,
    executor_id          TEXT,
    application_version  TEXT,
    application_id       TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    recovery_attempts    INTEGER NOT NULL DEFAULT 0,
    queue_name           TEXT,
    deduplication_id     TEXT,
    priority             INTEGER NOT NULL DEFAULT 0,
    delay_until_epoch_ms INTEGER,
    started_at_epoch_ms  INTEGER,
    workflow_timeout_ms  INTEGER,
    workflow_deadline_epoch_ms INTEGER,
    parent_workflow_id   TEXT,
    forked_from          TEXT,
    serialization        TEXT
) WITHOUT ROWID;
CREATE INDEX workflow_status_created_at ON workflow_status (created_at);
CREATE INDEX workflow_status_status_executor ON workflow_status (status, executor_id);
CREATE INDEX workflow_status_queue ON workflow_status (queue_name, status, priority, created_at)
    WHERE queue_name IS NOT NULL;
CREATE INDEX workflow_status_parent ON workflow_status (parent_workflow_id) WHERE parent_workflow_id IS NOT NULL;
CREATE INDEX workflow_status_forked_from ON workflow_status (forked_from) WHERE forked_from IS NOT NULL;
CREATE INDEX workflow_status_name ON workflow_status (name, created_at);
CREATE UNIQUE INDEX workflow_status_dedup ON workflow_status (queue_name, deduplication_id)
    WHERE deduplication_id IS NOT NULL;

CREATE TABLE operation_outputs (
    workflow_uuid     TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    function_id       INTEGER NOT NULL,
    function_name     TEXT NOT NULL,
    output            BLOB,
    error             BLOB,
    child_workflow_id TEXT,
    started_at        INTEGER,
    completed_at      INTEGER,
    wait_deadline     INTEGER,
    PRIMARY KEY (workflow_uuid, function_id)
) WITHOUT ROWID;

CREATE TABLE messages (
    message_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    destination_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    topic            TEXT NOT NULL,
    message          BLOB NOT NULL,
    idempotency_key  TEXT,
    created_at       INTEGER NOT NULL
);
CREATE INDEX messages_destination_topic ON messages (destination_uuid, topic, message_id);
CREATE TABLE message_keys (
    destination_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    idempotency_key  TEXT NOT NULL,
    PRIMARY KEY (destination_uuid, idempotency_key)
) WITHOUT ROWID;

CREATE TABLE workflow_events (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         BLOB NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (workflow_uuid, key)
) WITHOUT ROWID;

CREATE TABLE streams (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    value         BLOB,               -- NULL marks the close of the stream
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workflow_uuid, key, seq)
) WITHOUT ROWID;

-- SQLite has no LISTEN/NOTIFY: triggers append wake-ups to this log, which each process's listener polls
-- (only when PRAGMA data_version says another connection committed) and trims.
CREATE TABLE wakeups (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    kind  TEXT NOT NULL,
    wfid  TEXT NOT NULL,
    key   TEXT NOT NULL,
    at    INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);
CREATE TRIGGER messages_wakeup AFTER INSERT ON messages BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('msg', NEW.destination_uuid, NEW.topic);
END;
CREATE TRIGGER events_wakeup_insert AFTER INSERT ON workflow_events BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('event', NEW.workflow_uuid, NEW.key);
END;
CREATE TRIGGER events_wakeup_update AFTER UPDATE ON workflow_events BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('event', NEW.workflow_uuid, NEW.key);
END;
CREATE TRIGGER streams_wakeup AFTER INSERT ON streams BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('stream', NEW.workflow_uuid, NEW.key);
END;
CREATE TRIGGER status_wakeup_insert AFTER INSERT ON workflow_status BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('wf', NEW.workflow_uuid, NEW.status);
END;
CREATE TRIGGER status_wakeup_update AFTER UPDATE OF status ON workflow_status
    WHEN NEW.status IS NOT OLD.status BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('wf', NEW.workflow_uuid, NEW.status);
END;
