"""The ``tether`` command.

    tether demo                                  the seed demo server on http://127.0.0.1:8000
    tether serve --token T                       the HTTP gateway alone, next to your applications
    tether workflow list [--status S] [--name N] [--queue Q] [--prefix P] [--limit N]
    tether workflow get|steps|cancel ID          a workflow's status, its steps; cancel it
    tether workflow resume ID [--queue Q]        resume a cancelled workflow
    tether workflow fork ID --step N [--id NEW]  re-run a workflow from step N as a new workflow
    tether queue list [QUEUE]                    workflows waiting in or running from queues
    tether send ID '{"approved": true}' --topic notification
    tether event get ID progress --timeout 5     an event's value (waits for it)
    tether event list ID
    tether stream read ID progress_stream --follow
    tether migrate                               create or upgrade the database's tables

The database is ``--db URL``, else ``$TETHER_DATABASE_URL``, else ``sqlite:///tether-demo.sqlite`` (a file in
the working directory). ``--json`` prints one JSON document (``stream read --follow``: one per line).

Exit codes: 0 success; 1 not found or failed (the database, the workflow, the event); 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from tether.cli import commands, manage
from tether.cli.output import Output
from tether.errors import ConfigError, TetherError, WorkflowNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///tether-demo.sqlite"
Handler = Callable[[argparse.Namespace, Output], int]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=os.environ.get("TETHER_DATABASE_URL") or DEFAULT_DATABASE_URL,
                        help="database URL (default: $TETHER_DATABASE_URL or %(default)s)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="tether", description="Durable workflows: inspect, message, serve.",
                                     epilog=(__doc__ or "").split("\n", 1)[1].strip("\n"),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: Handler,
                help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    wf = top.add_parser("workflow", help="inspect workflows").add_subparsers(dest="action", required=True,
                                                                             metavar="ACTION")
    p = command(wf, "list", manage.workflow_list, "workflows, newest first")
    p.add_argument("--status", action="append", help="only this status (repeatable)")
    p.add_argument("--name", action="append", help="only this workflow name (repeatable)")
    p.add_argument("--queue", action="append", help="only workflows of this queue (repeatable)")
    p.add_argument("--prefix", default=None, help="only IDs starting with this")
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    p.add_argument("--oldest", action="store_true", help="oldest first")
    command(wf, "get", commands.workflow_get, "a workflow's status").add_argument("workflow_id")
    command(wf, "steps", manage.workflow_steps, "a workflow's recorded steps").add_argument("workflow_id")
    command(wf, "cancel", manage.workflow_cancel, "cancel a workflow").add_argument("workflow_id")
    p = command(wf, "resume", manage.workflow_resume, "resume a cancelled workflow from its last step")
    p.add_argument("workflow_id")
    p.add_argument("--queue", default=None, help="enqueue it on this queue instead of running it now")
    p = command(wf, "fork", manage.workflow_fork, "start a copy of a workflow that re-runs it from a step")
    p.add_argument("workflow_id")
    p.add_argument("--step", dest="start_step", type=_positive, default=1, help="re-run from this step (default 1)")
    p.add_argument("--id", dest="new_id", default=None, help="the new workflow's ID")
    p.add_argument("--app-version", default=None, help="run it on this application version")

    p = command(top, "send", commands.send, "send a JSON message to a workflow")
    p.add_argument("workflow_id")
    p.add_argument("message", help="the message, as JSON")
    p.add_argument("--topic", default=None)
    p.add_argument("--idempotency-key", default=None, help="repeated sends with one key deliver once")

    ev = top.add_parser("event", help="read workflow events").add_subparsers(dest="action", required=True,
                                                                              metavar="ACTION")
    p = command(ev, "get", commands.event_get, "an event's latest value, waiting for it to be published")
    p.add_argument("workflow_id")
    p.add_argument("key")
    p.add_argument("--timeout", type=float, default=0.0, help="seconds to wait for it (default 0)")
    command(ev, "list", commands.event_list, "every event of a workflow").add_argument("workflow_id")

    st = top.add_parser("stream", help="read workflow streams").add_subparsers(dest="action", required=True,
                                                                                metavar="ACTION")
    p = command(st, "read", commands.stream_read, "a stream's values (with --follow, until it closes)")
    p.add_argument("workflow_id")
    p.add_argument("key")
    p.add_argument("--offset", type=_offset, default=0, help="first offset to read (default 0)")
    p.add_argument("--follow", "-f", action="store_true", help="wait for new values until the stream closes")

    qu = top.add_parser("queue", help="inspect queues").add_subparsers(dest="action", required=True,
                                                                        metavar="ACTION")
    p = command(qu, "list", manage.queue_list, "workflows waiting in or running from queues")
    p.add_argument("queue", nargs="?", default=None, help="only this queue")
    p.add_argument("--limit", type=_positive, default=100)

    command(top, "migrate", commands.migrate, "create or upgrade the database's tables")

    for name, handler, help_text in (
        ("serve", commands.serve, "run the HTTP gateway (needs the http extra)"),
        ("demo", commands.demo, "run the seed demo server (needs the http extra)"),
    ):
        p = command(top, name, handler, help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        p.add_argument("--token", default=os.environ.get("TETHER_TOKEN"),
                       help="require this bearer token (default: $TETHER_TOKEN; none: no auth)")
        if name == "demo":
            p.add_argument("--fib-base", type=int, default=None,
                           help="Fibonacci base number of every step (smaller is faster; default: the seed's)")
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
    except commands.UsageError as exc:
        out.error("usage", str(exc))
        return commands.USAGE
    except ConfigError as exc:
        out.error("config", str(exc))
        return commands.USAGE
    except WorkflowNotFoundError as exc:
        out.error("workflow_not_found", str(exc))
        return commands.FAILED
    except TetherError as exc:
        out.error(type(exc).__name__, str(exc))
        return commands.FAILED
    except ValueError as exc:  # an argument the API rejected: an unknown status, a malformed time
        out.error("usage", str(exc))
        return commands.USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
