-- Durable schedules and debounced workflows.
-- A schedule is one row, read by every process's scheduler; its ticks are workflows whose ID is derived from
-- the schedule name and the tick's time, so however many processes fire a tick, one workflow starts.
CREATE TABLE workflow_schedules (
    schedule_id         TEXT PRIMARY KEY,
    schedule_name       TEXT NOT NULL UNIQUE,
    workflow_name       TEXT NOT NULL,
    workflow_class_name TEXT,
    schedule            TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'ACTIVE',
    context             BYTEA,
    last_fired_at       TEXT,               -- ISO 8601 in the schedule's time zone, as DBOS reports it
    last_fired_ms       BIGINT,             -- the same instant, for ordering
    automatic_backfill  INTEGER NOT NULL DEFAULT 0,
    cron_timezone       TEXT,
    queue_name          TEXT,
    updated_at          BIGINT NOT NULL
);
-- The runs of a schedule, and debounced workflows (their deadline caps how far a debounce may push them).
ALTER TABLE workflow_status ADD COLUMN schedule_name TEXT;
ALTER TABLE workflow_status ADD COLUMN is_debounced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflow_status ADD COLUMN debounce_deadline_epoch_ms BIGINT;
CREATE INDEX workflow_status_schedule ON workflow_status (schedule_name, created_at) WHERE schedule_name IS NOT NULL;
-- A debounced workflow gives up its debounce key when it leaves DELAYED (it is starting): a debounce from then
-- on starts the next workflow instead of waiting for this one to end.
CREATE FUNCTION tether_debounce_release() RETURNS TRIGGER AS $$
BEGIN
    NEW.deduplication_id := NULL;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
ALTER FUNCTION tether_debounce_release() SET search_path = tether, pg_catalog;
CREATE TRIGGER debounce_release BEFORE UPDATE OF status ON workflow_status
    FOR EACH ROW WHEN (OLD.status = 'DELAYED' AND NEW.status <> 'DELAYED' AND NEW.is_debounced = 1)
    EXECUTE FUNCTION tether_debounce_release();
