"""CLI commands that manage workflows: list, steps, cancel, resume, fork, and queue listing."""

from __future__ import annotations

import argparse
from typing import Any

from tether.api.client import DBOSClient
from tether.api.context import SetWorkflowID
from tether.cli.commands import NOTHING_TO_DO, OK, open_client, public_status, shown_url
from tether.cli.output import Output, table, when
from tether.engine.management import CANCELLABLE, RESUMABLE
from tether.engine.queues import INTERNAL_QUEUE
from tether.errors import SerializationError, WorkflowNotFoundError
from tether.http.encoding import status_json, step_json
from tether.types import WorkflowStatus

_COLUMNS = ["workflow_id", "status", "name", "queue", "created", "updated"]


def _rows(found: list[WorkflowStatus]) -> list[list[Any]]:
    return [[s.workflow_id, s.status, s.name, s.queue_name, when(s.created_at), when(s.updated_at)] for s in found]


def _listing(out: Output, found: list[WorkflowStatus], db: str, undecoded: str | None = None) -> int:
    if out.as_json:
        out.json([status_json(public_status(s), undecoded) for s in found])
    elif found:
        out.line(table(_COLUMNS, _rows([public_status(s) for s in found])))
    else:
        out.line(f"no workflows in {shown_url(db)}")
    return OK


def _list(client: DBOSClient, out: Output, filters: dict[str, Any], db: str, *, user_queues: bool = False) -> int:
    """List with inputs and outputs for --json; when some cannot be decoded in this process (the application's
    pickled classes are not importable here), list without them and mark them instead of failing. With
    ``user_queues``, workflows waiting on the internal queue (resumed ones) are left out."""
    undecoded = None
    try:
        found = client.list_workflows(**filters, load_input=out.as_json, load_output=out.as_json)
    except SerializationError as exc:
        found, undecoded = client.list_workflows(**filters, load_input=False, load_output=False), str(exc)
    if user_queues:
        found = [s for s in found if s.queue_name != INTERNAL_QUEUE]
    return _listing(out, found, db, undecoded)


def workflow_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        return _list(client, out, dict(status=args.status, name=args.name, queue_name=args.queue,
                                       workflow_id_prefix=args.prefix, limit=args.limit, sort_desc=not args.oldest),
                     args.db)


def queue_list(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        return _list(client, out, dict(queue_name=args.queue, limit=args.limit, queues_only=True, sort_desc=True),
                     args.db, user_queues=True)


def workflow_steps(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        steps = client.list_workflow_steps(args.workflow_id)
        if not steps and client.get_workflow_status(args.workflow_id) is None:
            raise WorkflowNotFoundError(args.workflow_id)  # the API lists no steps for an unknown ID
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


def _status_of(client: DBOSClient, workflow_id: str) -> str:
    """The workflow's status. Raises WorkflowNotFoundError (exit 1) for an unknown ID."""
    client.retrieve_workflow(workflow_id)
    found = client.list_workflows(workflow_ids=[workflow_id], load_input=False, load_output=False)
    return found[0].status if found else "unknown"


def _nothing_done(out: Output, workflow_id: str, action: str, status: str, why: str) -> int:
    if out.as_json:
        out.json({"workflow_id": workflow_id, "status": status, "action": action, "changed": False, "reason": why})
    else:
        out.line(f"not {action}: {workflow_id} {why}")
    return NOTHING_TO_DO


def workflow_cancel(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        before = _status_of(client, args.workflow_id)
        if before not in CANCELLABLE:
            why = "was already cancelled" if before == "CANCELLED" else f"has already ended ({before})"
            return _nothing_done(out, args.workflow_id, "cancelled", before, why)
        client.cancel_workflow(args.workflow_id)
        after = _status_of(client, args.workflow_id)
    if after != "CANCELLED":  # it ended between the two reads
        return _nothing_done(out, args.workflow_id, "cancelled", after, f"ended first ({after})")
    if out.as_json:
        out.json({"workflow_id": args.workflow_id, "status": after, "action": "cancelled", "changed": True,
                  "was": before})
    else:
        out.line(f"cancelled {args.workflow_id} (was {before}): tether workflow resume {args.workflow_id} "
                 "continues it")
    return OK


def workflow_resume(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        before = _status_of(client, args.workflow_id)
        if before not in RESUMABLE:
            why = ("is running or waiting to be recovered (PENDING)" if before == "PENDING"
                   else f"has ended ({before}); only CANCELLED, ENQUEUED, DELAYED or MAX_RECOVERY_ATTEMPTS_EXCEEDED "
                        "workflows resume (tether workflow fork re-runs an ended one)")
            return _nothing_done(out, args.workflow_id, "resumed", before, why)
        client.resume_workflow(args.workflow_id, queue_name=args.queue)
        after = _status_of(client, args.workflow_id)
    where = f" on queue {args.queue}" if args.queue else ""
    if out.as_json:
        out.json({"workflow_id": args.workflow_id, "status": after, "action": "resumed", "changed": True,
                  "was": before, "queue": args.queue})
    else:
        out.line(f"resumed {args.workflow_id}{where} (was {before}, now {after})")
    return OK


def workflow_fork(args: argparse.Namespace, out: Output) -> int:
    with open_client(args) as client:
        if args.new_id:
            with SetWorkflowID(args.new_id):
                handle = client.fork_workflow(args.workflow_id, args.start_step,
                                              application_version=args.app_version)
        else:
            handle = client.fork_workflow(args.workflow_id, args.start_step, application_version=args.app_version)
        return _show(out, client, handle.workflow_id, f"forked {args.workflow_id} from step {args.start_step} as")
