"""``tether workflow messages ID``: the messages queued for a workflow that nobody has received yet."""

from __future__ import annotations

import argparse

from tether.cli.commands import OK, open_client
from tether.cli.output import Output, table, when
from tether.errors import WorkflowNotFoundError
from tether.http.encoding import mailbox_json, to_json_or_marker


def _topic(topic: str | None) -> str:
    return "(no topic)" if topic is None else topic


def workflow_messages(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        found = client.list_workflows(workflow_ids=[args.workflow_id], load_input=False, load_output=False)
        if not found:
            raise WorkflowNotFoundError(args.workflow_id)
        counts = client.pending_message_counts(args.workflow_id)
        messages = client.list_pending_messages(args.workflow_id, args.topic, load_values=args.values,
                                                limit=args.limit, offset=args.offset)
    status = found[0]
    if out.as_json:
        out.json(mailbox_json(status, counts, messages, values_loaded=args.values, limit=args.limit,
                              offset=args.offset))
        return OK
    pending = sum(counts.values())
    per_topic = ", ".join(f"{_topic(t)} {n}" for t, n in counts.items())
    ended = ""
    if status.unread_messages_at_end is not None:
        ended = f"; it ended with {status.unread_messages_at_end} unread"
    out.line(f"{args.workflow_id} ({status.status}): {pending} message{'s' if pending != 1 else ''} waiting"
             + (f": {per_topic}" if per_topic else "") + ended)
    if messages:
        headers = ["id", "topic", "sent", "bytes", "idempotency_key"] + (["value"] if args.values else [])
        rows = [[m.message_id, _topic(m.topic), when(m.sent_at_epoch_ms), m.size_bytes, m.idempotency_key]
                + ([to_json_or_marker(m.value)] if args.values else []) for m in messages]
        out.line(table(headers, rows))
        shown_to = args.offset + len(messages)
        if args.topic is None and shown_to < pending:
            out.line(f"# {args.offset + 1}-{shown_to} of {pending}; --offset {shown_to} for more")
    return OK
