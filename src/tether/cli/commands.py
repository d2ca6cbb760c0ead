"""The CLI's commands. Each takes the parsed arguments and an :class:`Output` and returns an exit code.

Everything goes through the public :class:`tether.DBOSClient`; nothing here touches storage.
"""

from __future__ import annotations

import argparse
import json
import re

from tether.api.client import DBOSClient
from tether.cli.output import Output, cell, table, when
from tether.config import parse_database_url
from tether.engine.queues import INTERNAL_QUEUE
from tether.engine.runtime import create_database
from tether.errors import SerializationError
from tether.http.encoding import status_json, to_json_or_marker
from tether.storage.provision import database_state
from tether.types import WorkflowSerializationFormat, WorkflowStatus

OK, FAILED, USAGE, NOTHING_TO_DO = 0, 1, 2, 3
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
PIPE_CLOSED = 141  # 128 + SIGPIPE: the reader (| head) stopped reading


class UsageError(Exception):
    """Bad command-line input that argparse could not catch (exit code 2)."""


class NoDatabaseError(Exception):
    """A read-only command was pointed at a database that does not exist (exit code 1); nothing was created."""


def shown_url(url: str) -> str:
    """A database URL as the CLI prints it: any password masked."""
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)


def public_status(status: WorkflowStatus) -> WorkflowStatus:
    """The status as the CLI shows it: the internal queue a resumed workflow waits on is no queue of the user's."""
    if status.queue_name == INTERNAL_QUEUE:
        status.queue_name = None
    return status


def open_client(args: argparse.Namespace, *, read_only: bool = True) -> DBOSClient:
    """A client on ``--db`` (or ``$DBOS_SYSTEM_DATABASE_URL``, or the default demo database).

    ``read_only`` commands look first and create nothing: a missing file or database, or one without Tether's
    tables, is a :class:`NoDatabaseError` naming it.

    Raises:
        ConfigError: the URL is not a supported database URL.
        NoDatabaseError: ``read_only`` and the database does not exist (or holds no Tether tables).
        StorageError: the database cannot be reached or migrated.
    """
    if read_only:
        state = database_state(parse_database_url(args.db))
        if state != "ready":
            what = "does not exist" if state == "missing" else "holds no Tether tables"
            raise NoDatabaseError(f"database {shown_url(args.db)} {what}; nothing was created. Point to yours "
                                  f"with --db URL or $DBOS_SYSTEM_DATABASE_URL (tether migrate creates one)")
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
        out.error("workflow_not_found", f"No workflow with ID {args.workflow_id!r} in {shown_url(args.db)}")
        return FAILED
    data = status_json(public_status(status), undecoded)
    if out.as_json:
        out.json(data)
        return OK
    for name in ("created_at", "updated_at"):
        data[name] = when(data[name])
    rows = [(k, v) for k, v in data.items() if v not in (None, 0) or k in ("output", "recovery_attempts")]
    out.line(table(["field", "value"], rows))
    if status.unread_messages_at_end:
        out.line(f"# it ended with {status.unread_messages_at_end} message(s) nobody received: "
                 f"tether workflow messages {args.workflow_id}")
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
    elif args.topic is not None:
        out.line(f"sent to {args.workflow_id} on topic {args.topic}")
    else:
        out.line(f"sent to {args.workflow_id} with no topic (only a recv() without a topic receives it; "
                 "--topic T for another)")
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


def event_watch(args: argparse.Namespace, out: Output) -> int:
    """Print every version of an event from ``--from-version`` on as it is set, until the workflow ends."""
    with open_client(args) as client:
        client.retrieve_workflow(args.workflow_id)
        for change in client.watch_event(args.workflow_id, args.key, from_version=args.from_version):
            value = to_json_or_marker(change.value)
            if out.as_json:
                out.json_line({"version": change.version, "value": value,
                               "created_at_epoch_ms": change.created_at_epoch_ms})
            else:
                out.line(f"{change.version}\t{json.dumps(value, separators=(',', ':'))}")
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


def migrate(args: argparse.Namespace, out: Output) -> int:
    created = create_database(parse_database_url(args.db))
    with open_client(args, read_only=False):
        pass  # opening the database runs any migrations it lacks
    if out.as_json:
        out.json({"database": shown_url(args.db), "migrated": True, "created": created})
    else:
        out.line(f"database {shown_url(args.db)} {'created and ' if created else ''}is up to date")
    return OK


def _http_missing(out: Output, exc: ImportError) -> int:
    out.error("missing_dependency", f"{exc.name or exc}: this command needs the http extra: "
                                    "pip install 'tether[http]'")
    return FAILED


def serve(args: argparse.Namespace, out: Output) -> int:
    try:
        from tether.cli import serving
        from tether.http.gateway import create_gateway
        from tether.http.server import run
    except ImportError as exc:
        return _http_missing(out, exc)
    options = serving.security_options(args, "serve")
    with open_client(args, read_only=False) as client:
        app = create_gateway(client, insecure=True, **options)
        _banner(out, *serving.banner("serve", args, options))
        run(app, host=args.host, port=args.port)
    return OK


def _banner(out: Output, line: str, notes: list[str]) -> None:
    out.line(line)
    for note in notes:
        print(note, file=out.err, flush=True)


def demo(args: argparse.Namespace, out: Output) -> int:
    try:
        from tether.http.demo import create_demo_app
        from tether.http.server import run
    except ImportError as exc:
        return _http_missing(out, exc)
    from tether.cli import serving
    from tether.http.guard import is_loopback

    database = parse_database_url(args.db)  # a bad URL is a usage error now, not a crash at startup
    if not is_loopback(args.host) and not args.insecure:
        raise serving.RefusedError("tether demo serves its own routes without a token: run it on loopback, "
                                   "or add --insecure to serve it on " + args.host)
    options = serving.security_options(args, "demo")
    create_database(database)  # a missing PostgreSQL database: created, or one line saying what to run
    url = f"http://{args.host}:{args.port}"
    notes = serving.banner("demo", args, options)[1]
    if out.as_json:
        out.json_line({"url": url, "database": shown_url(args.db), "dashboard": f"{url}/ui",
                       "api_docs": f"{url}/api/docs"})
    else:
        out.line(f"tether demo on {url} (database {shown_url(args.db)}); dashboard at {url}/ui, API docs at "
                 f"{url}/api/docs; Ctrl-C stops")
    for note in notes:
        print(note, file=out.err, flush=True)
    try:
        run(create_demo_app(args.db, fib_base=args.fib_base, **options), host=args.host, port=args.port)
    except KeyboardInterrupt:
        out.error("interrupted", "stopped; unfinished workflows resume when tether demo starts again")
        return INTERRUPTED
    return OK
