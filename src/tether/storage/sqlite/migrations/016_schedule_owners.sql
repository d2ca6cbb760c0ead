-- The application that owns a schedule (DBOS 3.4's application_name): only processes of that application fire
-- it. NULL leaves it unclaimed, fired by every application that registers its workflow (as every schedule was
-- before this column).
ALTER TABLE workflow_schedules ADD COLUMN application_name TEXT;
