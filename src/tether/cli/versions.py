"""CLI commands for the registry of application versions: list them, and make one the latest (a rollback)."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from tether.cli.commands import OK, open_client
from tether.cli.output import Output, table


def version_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        found = client.list_application_versions()
    if args.app is not None:
        found = [v for v in found if v["application_name"] in (args.app, None)]
    if out.as_json:
        out.json([dict(v) for v in found])
    elif found:
        out.line(table(["version", "application", "timestamp", "registered"],
                       [[v["version_name"], v["application_name"] or "-", _when(v["version_timestamp"]),
                         _when(v["created_at"])] for v in found]))
    else:
        out.line("no application versions")
    return OK


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def version_promote(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.set_latest_application_version(args.version, application_name=args.app)
    if out.as_json:
        out.json({"version_name": args.version, "action": "promoted", "application_name": args.app})
    else:
        out.line(f"promoted {args.version}: it is now the latest version")
    return OK


def add_version_commands(top: argparse._SubParsersAction[argparse.ArgumentParser],
                         common: argparse.ArgumentParser) -> None:
    """``tether version list|promote``."""
    sub = top.add_parser("version", help="the registry of application versions").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("list", parents=[common], help="registered versions, latest first",
                       description="registered versions, latest first")
    p.set_defaults(handler=version_list)
    p.add_argument("--app", default=None, help="only this application's versions (and unclaimed ones)")
    p = sub.add_parser("promote", parents=[common], help="make a version the latest (a rollback)",
                       description="make a version the latest (a rollback)")
    p.set_defaults(handler=version_promote)
    p.add_argument("version", help="the version's name")
    p.add_argument("--app", default=None, help="act for this application (a version another one owns is refused)")
