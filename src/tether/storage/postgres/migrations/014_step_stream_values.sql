-- Stream writes from steps are identified by the value as well (write_digest, a 16-byte BLAKE2b of the stored
-- bytes) and write_index becomes the occurrence of that value among the step attempt's writes to the key
-- (0, 1, ...). A retry or re-run that writes a value the step call already stored appends nothing; a value no
-- earlier attempt wrote (as often) is appended. So every distinct value a step call writes is kept, once per
-- occurrence in the attempt that wrote it most often, and no retry duplicates one.
DROP INDEX IF EXISTS streams_step_write;
ALTER TABLE streams ADD COLUMN write_digest BYTEA;
CREATE UNIQUE INDEX streams_step_value ON streams (workflow_uuid, key, function_id, write_digest, write_index)
    WHERE function_id IS NOT NULL;
