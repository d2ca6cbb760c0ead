"""CLI commands for durable schedules: list, pause, resume, trigger, delete."""

from __future__ import annotations

import argparse

from tether.api.client import DBOSClient
from tether.cli.commands import OK, open_client
from tether.cli.output import Output, table
from tether.errors import ScheduleNotFoundError
from tether.http.encoding import schedule_json


def schedule_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        found = client.list_schedules(status=args.status, schedule_name_prefix=args.prefix)
    if out.as_json:
        out.json([schedule_json(s) for s in found])
    elif found:
        out.line(table(["name", "status", "schedule", "timezone", "workflow", "queue", "application",
                        "last_fired_at"],
                       [[s["schedule_name"], s["status"], s["schedule"], s["cron_timezone"] or "UTC",
                         s["workflow_name"], s["queue_name"], s["application_name"] or "-", s["last_fired_at"]]
                        for s in found]))
    else:
        out.line("no schedules")
    return OK


def _existing(client: DBOSClient, name: str) -> None:
    if client.get_schedule(name) is None:
        raise ScheduleNotFoundError(name)


def _done(out: Output, name: str, action: str, **extra: str) -> int:
    if out.as_json:
        out.json({"schedule_name": name, "action": action, **extra})
    else:
        out.line(" ".join([action, name, *extra.values()]))
    return OK


def schedule_pause(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        _existing(client, args.name)
        client.pause_schedule(args.name)
    return _done(out, args.name, "paused")


def schedule_resume(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        _existing(client, args.name)
        client.resume_schedule(args.name)
    return _done(out, args.name, "resumed")


def schedule_trigger(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        handle = client.trigger_schedule(args.name)
    return _done(out, args.name, "triggered", workflow_id=handle.workflow_id)


def schedule_delete(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        _existing(client, args.name)
        client.delete_schedule(args.name)
    return _done(out, args.name, "deleted")


def add_schedule_commands(top: argparse._SubParsersAction[argparse.ArgumentParser],
                          common: argparse.ArgumentParser) -> None:
    """``tether schedule list|pause|resume|trigger|delete``."""
    sub = top.add_parser("schedule", help="manage durable schedules").add_subparsers(
        dest="action", required=True, metavar="ACTION")

    def command(name: str, handler: object, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("list", schedule_list, "schedules, by name")
    p.add_argument("--status", choices=["ACTIVE", "PAUSED"], default=None, help="only schedules in this state")
    p.add_argument("--prefix", default=None, help="only names starting with this")
    for name, handler, help_text in (
        ("pause", schedule_pause, "stop a schedule firing, in every process"),
        ("resume", schedule_resume, "let a paused schedule fire again"),
        ("trigger", schedule_trigger, "start one run of a schedule now"),
        ("delete", schedule_delete, "delete a schedule (its past runs stay)"),
    ):
        command(name, handler, help_text).add_argument("name", help="the schedule's name")
