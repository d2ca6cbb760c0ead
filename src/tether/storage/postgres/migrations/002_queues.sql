-- Queues, delays and listing (issue 5).
-- A deduplication ID is unique only among *active* workflows of a queue: once one ends, the ID may be reused.
DROP INDEX workflow_status_dedup;
CREATE UNIQUE INDEX workflow_status_dedup ON workflow_status (queue_name, deduplication_id)
    WHERE deduplication_id IS NOT NULL AND status IN ('ENQUEUED', 'PENDING', 'DELAYED');
-- The rate limiter counts the starts of a queue within its period.
CREATE INDEX workflow_status_queue_started ON workflow_status (queue_name, started_at_epoch_ms)
    WHERE queue_name IS NOT NULL;
-- Delayed workflows by the time they are due.
CREATE INDEX workflow_status_delayed ON workflow_status (delay_until_epoch_ms) WHERE status = 'DELAYED';
-- list_workflows(workflow_id_prefix=...) compares IDs bytewise whatever the database's collation.
CREATE INDEX workflow_status_uuid_c ON workflow_status ((workflow_uuid COLLATE "C"));
-- Moving a delay wakes the queue runners, so a workflow moved earlier starts on time.
CREATE FUNCTION tether_delay_notify() RETURNS TRIGGER AS $$
BEGIN
    PERFORM tether_notify('wf', NEW.workflow_uuid, 'DELAYED');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER delay_notify AFTER UPDATE OF delay_until_epoch_ms ON workflow_status
    FOR EACH ROW WHEN (NEW.status = 'DELAYED' AND NEW.delay_until_epoch_ms IS DISTINCT FROM OLD.delay_until_epoch_ms)
    EXECUTE FUNCTION tether_delay_notify();
-- Trigger functions resolve tether_notify through their own search_path, not the writing session's, so a
-- write from a connection without "SET search_path TO tether" (a bulk load, psql) still notifies.
ALTER FUNCTION tether_notify(TEXT, TEXT, TEXT) SET search_path = tether, pg_catalog;
ALTER FUNCTION tether_messages_notify() SET search_path = tether, pg_catalog;
ALTER FUNCTION tether_events_notify() SET search_path = tether, pg_catalog;
ALTER FUNCTION tether_streams_notify() SET search_path = tether, pg_catalog;
ALTER FUNCTION tether_status_notify() SET search_path = tether, pg_catalog;
ALTER FUNCTION tether_delay_notify() SET search_path = tether, pg_catalog;
