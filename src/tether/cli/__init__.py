"""The ``tether`` command.

    tether demo                                  the demo server on http://127.0.0.1:8000
    tether serve --token T                       the HTTP gateway alone, next to your applications
                                                 (tokens, --insecure, --allow-host: see docs/gateway.md)
    tether workflow list [--status S] [--name N] [--queue Q] [--prefix P] [--limit N] [--oldest]
    tether workflow get|steps|cancel ID          a workflow's status, its steps; cancel it
    tether workflow messages ID [--values]       messages sent to it that nobody received yet
    tether workflow resume ID [--queue Q]        resume a cancelled workflow
    tether workflow fork ID --step N [--id NEW]  re-run a workflow from step N as a new workflow
    tether queue list [QUEUE]                    workflows waiting in or running from queues
    tether schedule list [--status S]            durable schedules
    tether schedule pause|resume|trigger|delete NAME
    tether version list [--app A]                application versions, latest first
    tether version promote V [--app A]           make V the latest version (a rollback)
    tether send ID '{"approved": true}' --topic notification
    tether event get ID progress --timeout 5     an event's value (waits for it)
    tether event watch ID progress               every version of an event, live, until the workflow ends
    tether event list ID
    tether stream list ID                        the streams a workflow wrote
    tether stream read ID progress_stream --follow
    tether migrate                               create or upgrade the database's tables
    tether import-dbos --from URL [--to URL]     copy a DBOS 3.4 system database into Tether's tables

The database is --db URL, else $DBOS_SYSTEM_DATABASE_URL, else sqlite:///tether-demo.sqlite (a file in
the working directory). Commands that only read never create it. --json (before or after the command)
prints one JSON document (stream read --follow: one per line). Lists show the newest first.

Exit codes: 0 done; 1 not found or failed (the database, the workflow, the event, the stream);
2 usage error; 3 nothing to do (cancel or resume of a workflow in a state where it has no effect);
4 import-dbos: the source is not a DBOS 3.4 database this Tether reads (nothing written); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from tether.cli import commands, manage, serving, streams
from tether.cli.import_dbos import add_import_command
from tether.cli.mailboxes import workflow_messages
from tether.cli.output import Output
from tether.cli.schedules import add_schedule_commands
from tether.cli.versions import add_version_commands
from tether.errors import ConfigError, TetherError, WorkflowNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///tether-demo.sqlite"
DATABASE_ENV = "DBOS_SYSTEM_DATABASE_URL"
Handler = Callable[[argparse.Namespace, Output], int]
STATUSES = ("PENDING", "ENQUEUED", "DELAYED", "SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    """--db and --json, accepted before the command and after it (after wins)."""
    db_default = default if default is argparse.SUPPRESS else (os.environ.get(DATABASE_ENV) or DEFAULT_DATABASE_URL)
    parser.add_argument("--db", metavar="URL", default=db_default,
                        help=f"database URL (default: ${DATABASE_ENV}, else {DEFAULT_DATABASE_URL})")
    parser.add_argument("--json", action="store_true", default=default,
                        help="print one JSON document, for scripts")


def _status(text: str) -> str:
    return text.strip().upper()  # an unknown one is the API's ValueError: a usage error, JSON with --json


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="tether", description="Durable workflows: inspect, message, serve.",
                                     epilog=(__doc__ or "").split("\n", 1)[1].strip("\n"),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(parser, False)
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler,
                help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return top.add_parser(name, help=help_text, description=help_text).add_subparsers(
            dest="action", required=True, metavar="ACTION")

    def workflow_id(p: argparse.ArgumentParser, what: str = "the workflow's ID") -> None:
        p.add_argument("workflow_id", metavar="ID", help=what)

    wf = group("workflow", "inspect and control workflows")
    p = command(wf, "list", manage.workflow_list, "workflows, newest first")
    p.add_argument("--status", action="append", type=_status,
                   help="only this status, in any case (repeatable): " + ", ".join(STATUSES))
    p.add_argument("--name", action="append", help="only this workflow name (repeatable)")
    p.add_argument("--queue", action="append", help="only workflows of this queue (repeatable)")
    p.add_argument("--prefix", default=None, help="only IDs starting with this")
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    p.add_argument("--oldest", action="store_true", help="oldest first")
    workflow_id(command(wf, "get", commands.workflow_get, "a workflow's status"))
    workflow_id(command(wf, "steps", manage.workflow_steps, "a workflow's recorded steps"))
    p = command(wf, "messages", workflow_messages, "messages sent to a workflow that no recv has taken yet (its "
                "mailbox), grouped by topic, oldest first: topic, send time, size; values with --values")
    workflow_id(p)
    p.add_argument("--topic", default=None, help="only this topic (default: every topic)")
    p.add_argument("--values", action="store_true",
                   help="also show each message's value (decoded here; one that cannot be is marked)")
    p.add_argument("--limit", type=_positive, default=100, help="at most this many messages (default 100)")
    p.add_argument("--offset", type=_offset, default=0, help="skip this many first (default 0)")
    workflow_id(command(wf, "cancel", manage.workflow_cancel,
                        "cancel a workflow that has not ended (exit 3 when there is nothing to cancel)"))
    p = command(wf, "resume", manage.workflow_resume,
                "resume a cancelled workflow from its last step (exit 3 when there is nothing to resume)")
    workflow_id(p)
    p.add_argument("--queue", default=None, help="enqueue it on this queue instead of running it now")
    p = command(wf, "fork", manage.workflow_fork, "start a copy of a workflow that re-runs it from a step")
    workflow_id(p, "the workflow to copy")
    p.add_argument("--step", dest="start_step", type=_positive, default=1, help="re-run from this step (default 1)")
    p.add_argument("--id", dest="new_id", default=None, help="the new workflow's ID (default: a new UUID)")
    p.add_argument("--app-version", default=None, help="run it on this application version")

    p = command(top, "send", commands.send, "send a JSON message to a workflow")
    workflow_id(p, "the receiving workflow's ID")
    p.add_argument("message", help="the message, as JSON (quote strings: '\"hi\"')")
    p.add_argument("--topic", default=None,
                   help="the topic the workflow receives on (DBOS.recv(topic)); default: no topic, "
                        "which only a recv() without a topic receives")
    p.add_argument("--idempotency-key", default=None, help="repeated sends with one key deliver once")

    ev = group("event", "read workflow events")
    p = command(ev, "get", commands.event_get, "an event's latest value, waiting for it to be published")
    workflow_id(p)
    p.add_argument("key", help="the event's key")
    p.add_argument("--timeout", type=float, default=0.0, help="seconds to wait for it (default 0)")
    workflow_id(command(ev, "list", commands.event_list, "every event of a workflow"))
    p = command(ev, "watch", commands.event_watch, "every version of an event as it is set, until the workflow ends")
    workflow_id(p)
    p.add_argument("key", help="the event's key")
    p.add_argument("--from-version", type=_offset, default=1, help="first version to print (default 1)")

    st = group("stream", "read workflow streams")
    workflow_id(command(st, "list", streams.stream_list, "the streams a workflow wrote: key, values, closed"))
    p = command(st, "read", streams.stream_read, "a stream's values (with --follow, until it closes)")
    workflow_id(p)
    p.add_argument("key", help="the stream's key (tether stream list ID shows them)")
    p.add_argument("--offset", type=_offset, default=0, help="first offset to read (default 0)")
    p.add_argument("--follow", "-f", action="store_true", help="wait for new values until the stream closes")

    qu = group("queue", "inspect queues")
    p = command(qu, "list", manage.queue_list, "workflows waiting in or running from queues, newest first")
    p.add_argument("queue", nargs="?", default=None, help="only this queue")
    p.add_argument("--limit", type=_positive, default=100, help="at most this many (default 100)")

    add_schedule_commands(top, common)
    add_version_commands(top, common)

    add_import_command(top, common)
    command(top, "migrate", commands.migrate, "create the database if needed, and create or upgrade its tables")

    for name, handler, help_text in (
        ("serve", commands.serve, "run the HTTP gateway (needs the http extra)"),
        ("demo", commands.demo, "run the demo server (needs the http extra)"),
    ):
        p = command(top, name, handler, help_text)
        serving.add_serving_options(p)
        if name == "demo":
            p.add_argument("--fib-base", type=int, default=None,
                           help="Fibonacci base number of every step (smaller is faster; default: 20 or 23)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _offset(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else commands.USAGE
    out = Output(as_json=getattr(args, "json", False))
    handler: Handler = args.handler
    try:
        return handler(args, out)
    except (commands.UsageError, serving.RefusedError) as exc:
        out.error("usage", str(exc))
        return commands.USAGE
    except commands.NoDatabaseError as exc:
        out.error("database_not_found", str(exc))
        return commands.FAILED
    except ConfigError as exc:
        out.error("config", str(exc))
        return commands.USAGE
    except WorkflowNotFoundError as exc:
        out.error("workflow_not_found", f"{exc} (database {commands.shown_url(args.db)})")
        return commands.FAILED
    except TetherError as exc:
        out.error(type(exc).__name__, str(exc))
        return commands.FAILED
    except ValueError as exc:  # an argument the API rejected: a malformed time
        out.error("usage", str(exc))
        return commands.USAGE
    except KeyboardInterrupt:
        out.interrupted()
        return commands.INTERRUPTED
    except BrokenPipeError:
        out.reader_gone()
        return commands.PIPE_CLOSED


if __name__ == "__main__":
    sys.exit(main())
