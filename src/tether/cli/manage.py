"""CLI commands that manage workflows: list, steps, cancel, resume, fork, and queue listing."""

from __future__ import annotations

import argparse
from typing import Any

from tether.api.client import DBOSClient
from tether.api.context import SetWorkflowID
from tether.cli.commands import OK, open_client
from tether.cli.output import Output, table, when
from tether.errors import SerializationError
from tether.http.encoding import status_json, step_json
from tether.types import WorkflowStatus

_COLUMNS = ["workflow_id", "status", "name", "queue", "created", "updated"]


def _rows(found: list[WorkflowStatus]) -> list[list[Any]]:
    return [[s.workflow_id, s.status, s.name, s.queue_name, when(s.created_at), when(s.updated_at)] for s in found]


def _listing(out: Output, found: list[WorkflowStatus], undecoded: str | None = None) -> int:
    if out.as_json:
        out.json([status_json(s, undecoded) for s in found])
    elif found:
        out.line(table(_COLUMNS, _rows(found)))
    else:
        out.line("no workflows")
    return OK


def _list(client: DBOSClient, out: Output, filters: dict[str, Any]) -> int:
    """List with inputs and outputs for --json; when some cannot be decoded in this process (the application's
    pickled classes are not importable here), list without them and mark them instead of failing."""
    try:
        found = client.list_workflows(**filters, load_input=out.as_json, load_output=out.as_json)
    except SerializationError as exc:
        return _listing(out, client.list_workflows(**filters, load_input=False, load_output=False), str(exc))
    return _listing(out, found)


def workflow_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        return _list(client, out, dict(status=args.status, name=args.name, queue_name=args.queue,
                                       workflow_id_prefix=args.prefix, limit=args.limit, sort_desc=not args.oldest))


def queue_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        return _list(client, out, dict(queue_name=args.queue, limit=args.limit, queues_only=True))


def workflow_steps(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        steps = client.list_workflow_steps(args.workflow_id)
    if out.as_json:
        out.json([step_json(s) for s in steps])
        return OK
    rows = [[s["function_id"], s["function_name"], s["error"] if s["error"] is not None else s["output"],
             s["child_workflow_id"], when(s["started_at_epoch_ms"]), when(s["completed_at_epoch_ms"])]
            for s in steps]
    out.line(table(["id", "name", "output", "child", "started", "completed"], rows) if rows else "no steps")
    return OK


def _show(out: Output, client: Any, workflow_id: str, verb: str) -> int:
    found = client.list_workflows(workflow_ids=[workflow_id], load_input=False, load_output=False)
    status = found[0].status if found else "unknown"
    if out.as_json:
        out.json({"workflow_id": workflow_id, "status": status, "action": verb})
    else:
        out.line(f"{verb} {workflow_id}: {status}")
    return OK


def _require(client: Any, workflow_id: str) -> None:
    client.retrieve_workflow(workflow_id)  # WorkflowNotFoundError (exit 1) for an unknown ID


def workflow_cancel(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        _require(client, args.workflow_id)
        client.cancel_workflow(args.workflow_id)
        return _show(out, client, args.workflow_id, "cancelled")


def workflow_resume(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        client.resume_workflow(args.workflow_id, queue_name=args.queue)
        return _show(out, client, args.workflow_id, "resumed")


def workflow_fork(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        if args.new_id:
            with SetWorkflowID(args.new_id):
                handle = client.fork_workflow(args.workflow_id, args.start_step,
                                              application_version=args.app_version)
        else:
            handle = client.fork_workflow(args.workflow_id, args.start_step, application_version=args.app_version)
        return _show(out, client, handle.workflow_id, f"forked {args.workflow_id} from step {args.start_step} as")
