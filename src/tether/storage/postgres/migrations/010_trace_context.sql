-- OpenTelemetry: the W3C trace context (a JSON object of the `traceparent` and, if any, `tracestate` headers)
-- of the code that started or enqueued the workflow. Whichever process runs the workflow later (a queue
-- runner, recovery) parents the workflow's span to it, so one trace follows the work across processes.
ALTER TABLE workflow_status ADD COLUMN trace_context TEXT;
