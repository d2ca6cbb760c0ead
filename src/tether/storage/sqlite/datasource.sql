-- The checkpoint table a datasource keeps in the application's own SQLite database (DBOS 3.4's
-- datasource_outputs, same name and columns): a transaction's outcome is inserted in the transaction itself,
-- so its writes and its checkpoint commit together. {table} is the table name.

-- name: create_table
CREATE TABLE IF NOT EXISTS {table} (
    workflow_id   TEXT NOT NULL,
    step_id       INTEGER NOT NULL,
    output        TEXT,
    error         TEXT,
    serialization TEXT,
    created_at    INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    PRIMARY KEY (workflow_id, step_id)
)

-- name: read
SELECT output, error, serialization FROM {table} WHERE workflow_id = :workflow_id AND step_id = :step_id

-- name: record
INSERT INTO {table} (workflow_id, step_id, output, error, serialization)
VALUES (:workflow_id, :step_id, :output, :error, :serialization)
ON CONFLICT (workflow_id, step_id) DO NOTHING
RETURNING step_id

-- name: forget
DELETE FROM {table} WHERE workflow_id = :workflow_id AND step_id = :step_id
