-- Mailboxes you can see: how many messages were still queued (never received) when a workflow ended. Set by
-- the statement that records the end (complete_workflow, set_status to a terminal status) from the messages
-- table in that same statement; NULL while the workflow has not ended (and for workflows ended before 009).
ALTER TABLE workflow_status ADD COLUMN unread_messages_at_end INTEGER;
