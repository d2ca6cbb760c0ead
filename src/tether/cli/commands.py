"""The CLI's commands. Each takes the parsed arguments and an :class:`Output` and returns an exit code.

Everything goes through the public :class:`tether.DBOSClient`; nothing here touches storage.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tether.api.client import DBOSClient
from tether.cli.output import Output, cell, table, when
from tether.errors import SerializationError
from tether.http.encoding import status_json, to_json_or_marker
from tether.types import WorkflowSerializationFormat

OK, FAILED, USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input that argparse could not catch (exit code 2)."""


def open_client(args: argparse.Namespace) -> DBOSClient:
    """A client on ``--db`` (or ``TETHER_DATABASE_URL``, or the default demo database).

    Raises:
        ConfigError: the URL is not a supported database URL.
        StorageError: the database cannot be reached or migrated.
    """
    return DBOSClient(args.db, name="tether-cli")


def workflow_get(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        try:
            status = client.get_workflow_status(args.workflow_id)
            undecoded = None
        except SerializationError as exc:  # the application's pickled classes are not importable here
            found = client.list_workflows(workflow_ids=[args.workflow_id], load_input=False, load_output=False)
            status, undecoded = (found[0] if found else None), str(exc)
    if status is None:
        out.error("workflow_not_found", f"No workflow with ID {args.workflow_id!r}")
        return FAILED
    data = status_json(status, undecoded)
    if out.as_json:
        out.json(data)
        return OK
    for name in ("created_at", "updated_at"):
        data[name] = when(data[name])
    rows = [(k, v) for k, v in data.items() if v not in (None, 0) or k in ("output", "recovery_attempts")]
    out.line(table(["field", "value"], rows))
    return OK


def send(args: argparse.Namespace, out: Output) -> int:
    try:
        message = json.loads(args.message)
    except ValueError as exc:
        raise UsageError(f"MESSAGE must be JSON (quote strings: '\"hi\"'): {exc}") from None
    with open_client(args) as client:
        client.send(args.workflow_id, message, args.topic, idempotency_key=args.idempotency_key,
                    serialization_type=WorkflowSerializationFormat.PORTABLE)
    if out.as_json:
        out.json({"workflow_id": args.workflow_id, "topic": args.topic, "sent": True})
    else:
        out.line(f"sent to {args.workflow_id}" + (f" on topic {args.topic}" if args.topic else ""))
    return OK


def event_get(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.retrieve_workflow(args.workflow_id)
        value = client.get_event(args.workflow_id, args.key, timeout_seconds=args.timeout)
        found = value is not None or args.key in client.get_all_events(args.workflow_id)
    if not found:
        out.error("event_not_found", f"Event {args.key!r} of {args.workflow_id!r} not set within {args.timeout}s")
        return FAILED
    if out.as_json:
        out.json({"workflow_id": args.workflow_id, "key": args.key, "value": value})
    else:
        out.line(cell(value) if isinstance(value, str) else json.dumps(to_json_or_marker(value)))
    return OK


def event_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.retrieve_workflow(args.workflow_id)
        events = client.get_all_events(args.workflow_id)
    if out.as_json:
        out.json({"workflow_id": args.workflow_id, "events": events})
    else:
        out.line(table(["key", "value"], sorted(events.items())) if events else "no events")
    return OK


def stream_read(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.retrieve_workflow(args.workflow_id)
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


def migrate(args: argparse.Namespace, out: Output) -> int:
    with open_client(args):
        pass  # opening the database runs any migrations it lacks
    if out.as_json:
        out.json({"database": args.db, "migrated": True})
    else:
        out.line(f"database {args.db} is up to date")
    return OK


def _http_missing(out: Output, exc: ImportError) -> int:
    out.error("missing_dependency", f"{exc.name or exc}: this command needs the http extra: "
                                    "pip install 'tether[http]'")
    return FAILED


def serve(args: argparse.Namespace, out: Output) -> int:
    try:
        from tether.http.gateway import create_gateway
        from tether.http.server import run
    except ImportError as exc:
        return _http_missing(out, exc)
    with open_client(args) as client:
        run(create_gateway(client, token=args.token), host=args.host, port=args.port)
    return OK


def demo(args: argparse.Namespace, out: Output) -> int:
    try:
        from tether.http.demo import create_demo_app
        from tether.http.server import run
    except ImportError as exc:
        return _http_missing(out, exc)
    from tether.config import parse_database_url

    parse_database_url(args.db)  # a bad URL is a usage error now, not a crash at startup
    out.line(f"tether demo on http://{args.host}:{args.port} (database {args.db})")
    run(create_demo_app(args.db, token=args.token, fib_base=args.fib_base), host=args.host, port=args.port)
    return OK
