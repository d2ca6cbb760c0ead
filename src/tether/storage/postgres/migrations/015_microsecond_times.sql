-- Workflow times to the microsecond (epoch microseconds), beside the millisecond columns the listing indexes
-- serve: created_at_us (of created_at), started_at_us (of started_at_epoch_ms, the start or dequeue) and
-- completed_at_us (of completed_at). list_workflows bounds given to the microsecond compare on the millisecond
-- column and settle a row of the bound's own millisecond with these. Rows written before them (and imported
-- rows) keep them NULL: known to the millisecond only, they count as inside a bound within their millisecond.
ALTER TABLE workflow_status ADD COLUMN created_at_us BIGINT;
ALTER TABLE workflow_status ADD COLUMN started_at_us BIGINT;
ALTER TABLE workflow_status ADD COLUMN completed_at_us BIGINT;
