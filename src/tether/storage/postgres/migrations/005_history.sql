-- Workflow attributes, completion time, fork marks and the application's name.
-- attributes: a JSON object (text) set by SetWorkflowAttributes / update_workflow_attributes; filtered by
-- JSONB containment, served by the GIN index below.
ALTER TABLE workflow_status ADD COLUMN attributes TEXT;
CREATE INDEX workflow_status_attributes ON workflow_status USING GIN ((CAST(attributes AS JSONB)) jsonb_path_ops)
    WHERE attributes IS NOT NULL;
-- When the workflow ended (SUCCESS, ERROR, CANCELLED), in epoch milliseconds.
ALTER TABLE workflow_status ADD COLUMN completed_at BIGINT;
-- Set on a workflow when another one is forked from it.
ALTER TABLE workflow_status ADD COLUMN was_forked_from BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE workflow_status ADD COLUMN application_name TEXT;
CREATE INDEX workflow_status_completed_at ON workflow_status (completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX workflow_status_dequeued_at ON workflow_status (started_at_epoch_ms) WHERE queue_name IS NOT NULL;
CREATE INDEX workflow_status_application_name ON workflow_status (application_name, created_at);
-- Workflows with a deadline, by deadline: the timer that cancels them reads the earliest.
CREATE INDEX workflow_status_deadline ON workflow_status (workflow_deadline_epoch_ms)
    WHERE workflow_deadline_epoch_ms IS NOT NULL AND status IN ('PENDING', 'ENQUEUED', 'DELAYED');
-- Every value an event took, by the operation that set it, so that a fork restores the events as they
-- were before its start step.
CREATE TABLE workflow_events_history (
    workflow_uuid TEXT NOT NULL REFERENCES workflow_status (workflow_uuid) ON DELETE CASCADE,
    function_id   INTEGER NOT NULL,
    key           TEXT NOT NULL,
    value         BYTEA NOT NULL,
    PRIMARY KEY (workflow_uuid, function_id, key)
);
