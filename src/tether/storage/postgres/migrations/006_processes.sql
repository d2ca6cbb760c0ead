-- Ownership: every launched process registers here and heartbeats; a PENDING workflow names the process that
-- runs it. A process whose heartbeat lapsed (or that stopped) is adopted by a live one: its row is deleted and
-- its PENDING workflows move to the adopter (queued ones go back to their queue), in one transaction.
CREATE TABLE processes (
    process_id          TEXT PRIMARY KEY,
    executor_id         TEXT NOT NULL,
    app_name            TEXT NOT NULL,
    application_version TEXT NOT NULL,
    hostname            TEXT NOT NULL,
    pid                 INTEGER NOT NULL,
    machine             TEXT,            -- where the pid can be probed (boot id and pid namespace), if known
    pid_started         TEXT,            -- the start time of that pid, telling it from a reused one
    started_at          BIGINT NOT NULL,
    heartbeat_at        BIGINT NOT NULL,
    timeout_ms          BIGINT NOT NULL, -- the lapse after which this process may be adopted
    stopped_at          BIGINT           -- set by a clean shutdown: adoptable at once
);
ALTER TABLE workflow_status ADD COLUMN owner_process TEXT;
CREATE INDEX workflow_status_owner ON workflow_status (owner_process) WHERE status = 'PENDING';
-- A clean stop wakes the other processes, which adopt the stopped one's workflows at once.
CREATE FUNCTION tether_process_notify() RETURNS TRIGGER AS $$
BEGIN
    PERFORM tether_notify('proc', NEW.process_id, 'STOPPED');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SET search_path = tether, pg_catalog;
CREATE TRIGGER process_stopped_notify AFTER UPDATE OF stopped_at ON processes
    FOR EACH ROW WHEN (NEW.stopped_at IS NOT NULL AND OLD.stopped_at IS NULL)
    EXECUTE FUNCTION tether_process_notify();
