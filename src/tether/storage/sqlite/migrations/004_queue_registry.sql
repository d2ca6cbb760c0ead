-- Queues registered in the database (DBOS.register_queue), read by every process that shares it; partitions.
CREATE TABLE queues (
    name                         TEXT PRIMARY KEY,
    concurrency                  INTEGER,
    worker_concurrency           INTEGER,
    rate_limit                   INTEGER,
    rate_period_ms               INTEGER,
    partition_concurrency        INTEGER,
    partition_worker_concurrency INTEGER,
    partition_rate_limit         INTEGER,
    partition_rate_period_ms     INTEGER,
    polling_interval_ms          INTEGER NOT NULL DEFAULT 1000,
    application_name             TEXT,
    application_version          TEXT,
    created_at                   INTEGER NOT NULL,
    updated_at                   INTEGER NOT NULL
);
-- When each application version first registered a queue: the newest one owns queue settings on conflict.
CREATE TABLE queue_app_versions (
    application_name TEXT NOT NULL,
    version          TEXT NOT NULL,
    first_seen_ms    INTEGER NOT NULL,
    PRIMARY KEY (application_name, version)
);
ALTER TABLE workflow_status ADD COLUMN queue_partition_key TEXT;
CREATE INDEX workflow_status_queue_partition ON workflow_status (queue_name, queue_partition_key, status)
    WHERE queue_partition_key IS NOT NULL;
-- A queue's settings changed: every runner re-reads them.
CREATE TRIGGER queues_wakeup_insert AFTER INSERT ON queues BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('queue', '*', 'changed');
END;
CREATE TRIGGER queues_wakeup_update AFTER UPDATE ON queues BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('queue', '*', 'changed');
END;
CREATE TRIGGER queues_wakeup_delete AFTER DELETE ON queues BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('queue', '*', 'changed');
END;
