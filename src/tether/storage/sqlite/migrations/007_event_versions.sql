-- Versioned events: every value an event took, numbered 1, 2, ... per (workflow, key), with the operation
-- (workflow operation or step) that set it. It replaces workflow_events_history: forks and rewinds restore an
-- event's last version set before their cut, and watchers follow a key from any version on.
-- workflow_events.version is the key's latest version (the one its value is), function_id the operation that
-- set it; the triggers below keep each version, in the statement that sets it.
ALTER TABLE workflow_events ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE workflow_events ADD COLUMN function_id INTEGER;
CREATE TABLE workflow_event_versions (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    function_id   INTEGER,            -- NULL for values set before versions existed
    value         BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workflow_uuid, key, version)
) WITHOUT ROWID;
-- The history kept so far becomes versions 1, 2, ... in the order of the operations that set them.
INSERT INTO workflow_event_versions (workflow_uuid, key, version, function_id, value, created_at)
SELECT h.workflow_uuid, h.key,
       ROW_NUMBER() OVER (PARTITION BY h.workflow_uuid, h.key ORDER BY h.function_id),
       h.function_id, h.value,
       coalesce((SELECT e.updated_at FROM workflow_events e
                 WHERE e.workflow_uuid = h.workflow_uuid AND e.key = h.key), 0)
FROM workflow_events_history h;
-- An event with no history (set before history was kept) has its current value as version 1.
INSERT INTO workflow_event_versions (workflow_uuid, key, version, function_id, value, created_at)
SELECT e.workflow_uuid, e.key, 1, NULL, e.value, e.updated_at FROM workflow_events e
WHERE NOT EXISTS (SELECT 1 FROM workflow_event_versions v
                  WHERE v.workflow_uuid = e.workflow_uuid AND v.key = e.key);
UPDATE workflow_events SET version = (
    SELECT max(v.version) FROM workflow_event_versions v
    WHERE v.workflow_uuid = workflow_events.workflow_uuid AND v.key = workflow_events.key)
WHERE version <> (
    SELECT max(v.version) FROM workflow_event_versions v
    WHERE v.workflow_uuid = workflow_events.workflow_uuid AND v.key = workflow_events.key);
DROP TABLE workflow_events_history;
-- Each new version of an event is kept by the statement that sets it (one statement per set_event). A fork or
-- a rewind restoring an event to a version already kept leaves that row as it is.
CREATE TRIGGER event_versions_insert AFTER INSERT ON workflow_events BEGIN
    INSERT OR IGNORE INTO workflow_event_versions (workflow_uuid, key, version, function_id, value, created_at)
    VALUES (NEW.workflow_uuid, NEW.key, NEW.version, NEW.function_id, NEW.value, NEW.updated_at);
END;
CREATE TRIGGER event_versions_update AFTER UPDATE OF version ON workflow_events BEGIN
    INSERT OR IGNORE INTO workflow_event_versions (workflow_uuid, key, version, function_id, value, created_at)
    VALUES (NEW.workflow_uuid, NEW.key, NEW.version, NEW.function_id, NEW.value, NEW.updated_at);
END;
