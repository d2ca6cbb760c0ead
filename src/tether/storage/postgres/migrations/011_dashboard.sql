-- The dashboard's list (issue 15): a status or queue filter, newest first, read from an index in creation
-- order instead of scanning every workflow by creation time (a status few workflows have, such as ERROR in a
-- healthy system, read the whole created_at index) or sorting a whole queue's workflows. Measured on a
-- million workflows by bench/dashboard_million.py.
CREATE INDEX workflow_status_status_created ON workflow_status (status, created_at);
CREATE INDEX workflow_status_queue_created ON workflow_status (queue_name, created_at) WHERE queue_name IS NOT NULL;
