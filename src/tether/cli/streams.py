"""CLI commands on streams: list a workflow's streams, read one (``--follow`` waits for new values)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tether.api.client import DBOSClient
from tether.cli.commands import FAILED, OK, open_client
from tether.cli.output import Output, table
from tether.http.encoding import to_json_or_marker
from tether.types import ACTIVE_STATUSES, StreamInfo


def stream_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.retrieve_workflow(args.workflow_id)
        found = client.list_streams(args.workflow_id)
    if out.as_json:
        out.json({"workflow_id": args.workflow_id,
                  "streams": [{"key": s.key, "values": s.values, "closed": s.closed} for s in found]})
    elif found:
        out.line(table(["key", "values", "closed"], [[s.key, s.values, "yes" if s.closed else "no"] for s in found]))
    else:
        out.line(f"{args.workflow_id} has written no streams")
    return OK


def _never_written(client: DBOSClient, args: argparse.Namespace, out: Output) -> bool:
    """Say so (and return True) when the workflow has ended without ever writing stream ``key``."""
    status = client.get_workflow_status(args.workflow_id)  # first: once it has ended, every write is visible
    if status is not None and status.status in ACTIVE_STATUSES:
        return False  # it may still write it: a read says "open", --follow waits
    found: list[StreamInfo] = client.list_streams(args.workflow_id)
    if any(s.key == args.key for s in found):
        return False
    keys = ", ".join(s.key for s in found) or "none"
    out.error("stream_not_found", f"{args.workflow_id} ({status.status if status else 'gone'}) never wrote a "
                                  f"stream {args.key!r}; its streams: {keys}")
    return True


def stream_read(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.retrieve_workflow(args.workflow_id)
        if _never_written(client, args, out):
            return FAILED
        if not args.follow:
            snap = client.read_stream_nowait(args.workflow_id, args.key, args.offset)
            if out.as_json:
                out.json({"values": snap.values, "closed": snap.closed, "next_offset": snap.next_offset})
                return OK
            for i, value in enumerate(snap.values):
                out.line(f"{args.offset + i}\t{_compact(value)}")
            out.line(f"# {'closed' if snap.closed else 'open'}, next offset {snap.next_offset}")
            return OK
        offset = args.offset
        for value in client.read_stream(args.workflow_id, args.key, offset=offset):
            if out.as_json:
                out.json_line({"offset": offset, "value": value})
            else:
                out.line(f"{offset}\t{_compact(value)}")
            offset += 1
    return OK


def _compact(value: Any) -> str:
    return json.dumps(to_json_or_marker(value), separators=(",", ":"))
