-- Role-based security: the roles granted to the workflow's authenticated user (a JSON list of strings) and the
-- role it was started with assumed. A workflow runs as the identity recorded with it wherever it runs later
-- (recovery, a queue, a resume), so its required roles are checked against the same roles each time.
ALTER TABLE workflow_status ADD COLUMN authenticated_roles TEXT;
ALTER TABLE workflow_status ADD COLUMN assumed_role TEXT;
