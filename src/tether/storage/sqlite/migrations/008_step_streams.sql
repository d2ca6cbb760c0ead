-- Exactly-once stream writes from steps: a value written from inside a step carries the step's number
-- (function_id) and its index among that step call's writes to the key (write_index, from 0). A retried or
-- re-run step repeating the same (step, index) finds the stored row instead of appending again. Writes from
-- the workflow body (checkpointed in operation_outputs) and from outside workflows leave both NULL, so the
-- partial index holds step writes only. A rewind clears them from the cut on: the step runs as a new call.
ALTER TABLE streams ADD COLUMN function_id INTEGER;
ALTER TABLE streams ADD COLUMN write_index INTEGER;
CREATE UNIQUE INDEX streams_step_write ON streams (workflow_uuid, key, function_id, write_index)
    WHERE function_id IS NOT NULL;
