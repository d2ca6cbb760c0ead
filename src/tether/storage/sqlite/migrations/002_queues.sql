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
-- Moving a delay wakes the queue runners, so a workflow moved earlier starts on time.
CREATE TRIGGER delay_wakeup AFTER UPDATE OF delay_until_epoch_ms ON workflow_status
    WHEN NEW.status = 'DELAYED' AND NEW.delay_until_epoch_ms IS NOT OLD.delay_until_epoch_ms BEGIN
    INSERT INTO wakeups (kind, wfid, key) VALUES ('wf', NEW.workflow_uuid, 'DELAYED');
END;
