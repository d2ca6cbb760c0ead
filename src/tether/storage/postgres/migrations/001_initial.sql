-- Tether system tables on PostgreSQL. Times are Unix epoch milliseconds.
CREATE TABLE workflow_status (
    workflow_uuid        TEXT PRIMARY KEY,
    status               TEXT NOT NULL,
    name                 TEXT NOT NULL,
    class_name           TEXT,
    config_name          TEXT,
    authenticated_user   TEXT,
    inputs               BYTEA,
    output               BYTEA,
    error                BYTEA,
    executor_id          TEXT,
    application_version  TEXT,
    application_id       TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    recovery_attempts    INTEGER NOT NULL DEFAULT 0,
    queue_name           TEXT,
    deduplication_id     TEXT,
    priority             INTEGER NOT NULL DEFAULT 0,
    delay_until_epoch_ms BIGINT,
    started_at_epoch_ms  BIGINT,
    workflow_timeout_ms  BIGINT,
    workflow_deadline_epoch_ms BIGINT,
    parent_workflow_id   TEXT,
    forked_from          TEXT,
    serialization        TEXT
);
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
    output            BYTEA,
    error             BYTEA,
    child_workflow_id TEXT,
    started_at        BIGINT,
    completed_at      BIGINT,
    wait_deadline     BIGINT,
    PRIMARY KEY (workflow_uuid, function_id)
);

CREATE TABLE messages (
    message_id       BIGSERIAL PRIMARY KEY,
    destination_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    topic            TEXT NOT NULL,
    message          BYTEA NOT NULL,
    idempotency_key  TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX messages_destination_topic ON messages (destination_uuid, topic, message_id);
-- Idempotency keys outlive the message they delivered, so a retried send after the recv is still a no-op.
CREATE TABLE message_keys (
    destination_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    idempotency_key  TEXT NOT NULL,
    PRIMARY KEY (destination_uuid, idempotency_key)
);

CREATE TABLE workflow_events (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         BYTEA NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (workflow_uuid, key)
);

CREATE TABLE streams (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    value         BYTEA,              -- NULL marks the close of the stream
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workflow_uuid, key, seq)
);

-- Wake-ups: every write a waiter may care about notifies channel 'tether' inside its transaction, so nobody
-- wakes before the data is committed. Payload: JSON [kind, workflow_id, key]; shortened when too long.
CREATE FUNCTION tether_notify(kind TEXT, wfid TEXT, k TEXT) RETURNS VOID AS $$
DECLARE
    payload TEXT := json_build_array(kind, wfid, k)::text;
BEGIN
    IF octet_length(payload) > 7900 THEN
        payload := json_build_array(kind, left(wfid, 3000))::text;
    END IF;
    PERFORM pg_notify('tether', payload);
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION tether_messages_notify() RETURNS TRIGGER AS $$
BEGIN
    PERFORM tether_notify('msg', NEW.destination_uuid, NEW.topic);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER messages_notify AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION tether_messages_notify();

CREATE FUNCTION tether_events_notify() RETURNS TRIGGER AS $$
BEGIN
    PERFORM tether_notify('event', NEW.workflow_uuid, NEW.key);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_notify AFTER INSERT OR UPDATE ON workflow_events
    FOR EACH ROW EXECUTE FUNCTION tether_events_notify();

CREATE FUNCTION tether_streams_notify() RETURNS TRIGGER AS $$
BEGIN
    PERFORM tether_notify('stream', NEW.workflow_uuid, NEW.key);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER streams_notify AFTER INSERT ON streams
    FOR EACH ROW EXECUTE FUNCTION tether_streams_notify();

CREATE FUNCTION tether_status_notify() RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM tether_notify('wf', NEW.workflow_uuid, NEW.status);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER status_notify AFTER INSERT OR UPDATE OF status ON workflow_status
    FOR EACH ROW EXECUTE FUNCTION tether_status_notify();
