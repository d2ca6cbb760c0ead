"""``tether import-dbos --from URL [--to URL]``: copy a DBOS 3.4 system database into Tether's tables.

Exit codes: 0 copied (or nothing new: every workflow was already there); 1 the target database failed, or an
imported deduplication ID is active in Tether already (nothing imported); 2 usage (a URL Tether does not know,
one SQLite file as both source and target, no target named); 4 the source is not a DBOS 3.4 system database
this Tether reads: unreachable, missing, not DBOS's or another schema version (reported before anything is
written), or a malformed value (the copy is rolled back).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from tether.cli.commands import FAILED, OK, USAGE, shown_url
from tether.cli.output import Output
from tether.engine.dbos_import import NOT_CARRIED, ImportReport, import_dbos
from tether.errors import ConfigError, DBOSImportError, DBOSSourceError, StorageError

BAD_SOURCE = 4


def add_import_command(top: argparse._SubParsersAction[argparse.ArgumentParser],
                       common: argparse.ArgumentParser) -> None:
    help_text = "copy a DBOS 3.4 system database (SQLite file or PostgreSQL) into Tether's tables"
    p = top.add_parser("import-dbos", parents=[common], help=help_text, description=help_text + (
        ". Workflows, steps, pending messages, events, streams, queues and schedules are copied in one "
        "transaction; workflows already in Tether are left alone, so running it twice changes nothing. "
        "Workflows that had not ended run under Tether once an application registering them launches. "
        "Exit codes: 0 done, 1 the target failed (nothing imported), 2 usage, 4 the source is not a DBOS 3.4 "
        "database this Tether reads (nothing written)."))
    p.set_defaults(handler=import_command)
    p.add_argument("--from", dest="source", required=True, metavar="URL",
                   help="the DBOS system database: sqlite:///path/to/file.sqlite or postgresql://...")
    p.add_argument("--to", dest="target", default=None, metavar="URL",
                   help="Tether's database (else --db, else $DBOS_SYSTEM_DATABASE_URL; one is required); created "
                        "if missing. "
                        "On PostgreSQL it may be the DBOS database itself (Tether uses schema 'tether')")
    p.add_argument("--schema", default="dbos", help="DBOS's schema on PostgreSQL (default: dbos)")
    p.add_argument("--app-version", default=None,
                   help="application version given to the imported workflows that have not ended (default: "
                        "none, so any Tether process registering their functions runs them)")


def import_command(args: argparse.Namespace, out: Output) -> int:
    from tether.cli import DATABASE_ENV, DEFAULT_DATABASE_URL

    target = args.target or args.db
    if target == DEFAULT_DATABASE_URL and not args.target and not os.environ.get(DATABASE_ENV):
        # the other commands fall back to the demo's file; an import says where it goes
        out.error("usage", f"say which database Tether's tables are in: --to URL (or --db URL, or "
                           f"${DATABASE_ENV}); on PostgreSQL it may be the DBOS database itself")
        return USAGE
    try:
        report = import_dbos(args.source, target, schema=args.schema, app_version=args.app_version)
    except DBOSSourceError as exc:
        out.error("not_a_dbos_database", f"{exc} (nothing was written)")
        return BAD_SOURCE
    except ConfigError as exc:
        out.error("usage", str(exc))
        return USAGE
    except DBOSImportError as exc:
        if "cannot share one SQLite file" in str(exc):
            out.error("usage", str(exc))
            return USAGE
        out.error("import_failed", str(exc))
        return FAILED
    except StorageError as exc:
        out.error("import_failed", f"{shown_url(target)}: {exc} (nothing was imported)")
        return FAILED
    if out.as_json:
        out.json(_json(report))
    else:
        for line in describe(report):
            out.line(line)
    return OK


def _json(report: ImportReport) -> dict[str, Any]:
    c = report.counts
    return {
        "source": report.source, "target": report.target, "dbos_schema_version": report.dbos_schema_version,
        "changed": report.changed, "imported": c.imported, "already_present": c.already_present,
        "to_run": report.to_run, "steps": c.operations, "messages": c.messages, "events": c.events,
        "event_history": c.event_history, "stream_values": c.stream_values, "queues": c.queues,
        "queues_already_present": c.queues_present, "schedules": c.schedules,
        "schedules_already_present": c.schedules_present, "unmapped_dbos_classes": report.unmapped_classes,
        "not_carried": {"delivered_messages": report.consumed_messages,
                        "application_versions": report.application_versions, "never": list(NOT_CARRIED)},
    }


def _n(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def describe(report: ImportReport) -> list[str]:
    """The report as lines for a person."""
    c = report.counts
    lines = [f"from {report.source} (DBOS schema version {report.dbos_schema_version}) into {report.target}:"]
    if not report.changed:
        lines.append(f"  nothing new: {_n(len(c.already_present), 'workflow')}, {_n(len(c.queues_present), 'queue')} "
                     f"and {_n(len(c.schedules_present), 'schedule')} are in Tether already (left alone)")
    else:
        lines.append(f"  imported {_n(len(c.imported), 'workflow')}: {_n(c.operations, 'step')}, "
                     f"{_n(c.messages, 'pending message')}, {_n(c.events, 'event')} "
                     f"({c.event_history} in their history), {_n(c.stream_values, 'stream value')}; "
                     f"{_n(len(c.queues), 'queue')}, {_n(len(c.schedules), 'schedule')}")
        if c.already_present or c.queues_present or c.schedules_present:
            shown = ", ".join(c.already_present[:10]) + (" ..." if len(c.already_present) > 10 else "")
            lines.append(f"  already in Tether, left alone: {_n(len(c.already_present), 'workflow')}"
                         f"{' (' + shown + ')' if shown else ''}, {_n(len(c.queues_present), 'queue')}, "
                         f"{_n(len(c.schedules_present), 'schedule')}")
    if report.to_run:
        shown = ", ".join(report.to_run[:10]) + (" ..." if len(report.to_run) > 10 else "")
        lines.append(f"  {_n(len(report.to_run), 'workflow')} had not ended ({shown}): a launched Tether "
                     "application registering their functions runs them from their recorded steps")
    if report.unmapped_classes:
        lines.append("  values name DBOS classes Tether has no class for (they read only where dbos is "
                     f"installed): {', '.join(report.unmapped_classes)}")
    lines.append(f"  not carried over: {_n(report.consumed_messages, 'message')} DBOS had delivered, its registry "
                 f"of {_n(report.application_versions, 'application version')}, and DBOS-only columns "
                 "(roles, ownership tokens, retention times; see docs/compatibility.md)")
    return lines
