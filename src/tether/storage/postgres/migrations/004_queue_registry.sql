-- Queues registered in the database (DBOS.register_queue), read by every process that shares it; partitions.
CREATE TABLE queues (
    name                         TEXT PRIMARY KEY,
    concurrency                  INTEGER,
    worker_concurrency           INTEGER,
    rate_limit                   INTEGER,
    rate_period_ms               BIGINT,
    partition_concurrency        INTEGER,
    partition_worker_concurrency INTEGER,
    partition_rate_limit         INTEGER,
    partition_rate_period_ms     BIGINT,
    polling_interval_ms          BIGINT NOT NULL DEFAULT 1000,
    application_name             TEXT,
    application_version          TEXT,
    created_at                   BIGINT NOT NULL,
    updated_at                   BIGINT NOT NULL
);
-- When each application version first registered a queue: the newest one owns queue settings on conflict.
CREATE TABLE queue_app_versions (
    application_name TEXT NOT NULL,
    version          TEXT NOT NULL,
    first_seen_ms    BIGINT NOT NULL,
    PRIMARY KEY (application_name, version)
);
ALTER TABLE workflow_status ADD COLUMN queue_partition_key TEXT;
CREATE INDEX workflow_status_queue_partition ON workflow_status (queue_name, queue_partition_key, status)
    WHERE queue_partition_key IS NOT NULL;
-- A queue's settings changed: every runner re-reads them (notified inside the writing transaction).
CREATE FUNCTION tether_queues_notify() RETURNS TRIGGER AS $$
BEGIN
    PERFORM tether_notify('queue', '*', 'changed');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SET search_path = tether, pg_catalog;
CREATE TRIGGER queues_notify AFTER INSERT OR UPDATE OR DELETE ON queues
    FOR EACH STATEMENT EXECUTE FUNCTION tether_queues_notify();
