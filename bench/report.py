"""Render the collected scenario results as Markdown: one table with tether, dbos and the ratio ours/peer."""

from __future__ import annotations

import math
from typing import Any

IMPLS = ("tether", "dbos")


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _index(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    """(scenario, metric, backend) -> impl -> metric dict; scenarios and metrics in first-seen order,
    the backends of one metric next to each other."""
    rows: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for rec in records:
        for m in rec.get("metrics", []):
            key = (rec["scenario"], m["name"], rec["backend"])
            rows.setdefault(key, {})[rec["impl"]] = m
    first_seen = {key[:2]: i for i, key in reversed(list(enumerate(rows)))}
    return dict(sorted(rows.items(), key=lambda kv: (first_seen[kv[0][:2]], kv[0][2])))


def _ratio(row: dict[str, dict[str, Any]]) -> str:
    ours, peer = row.get("tether"), row.get("dbos")
    if not ours or not peer or not peer["value"]:
        return "-"
    ratio = ours["value"] / peer["value"]
    better = peer.get("better", "")
    if better == "higher":
        verdict = "better" if ratio > 1.05 else "worse" if ratio < 0.95 else "same"
    elif better == "lower":
        verdict = "better" if ratio < 0.95 else "worse" if ratio > 1.05 else "same"
    else:
        return f"{ratio:.2f}"
    return f"{ratio:.2f} ({verdict})"


def _ceiling_section(records: list[dict[str, Any]], rows: dict[Any, Any]) -> list[str]:
    limit = next((m for r in records if r["scenario"] == "pg_limit" for m in r.get("metrics", [])
                  if m["name"] == "INSERT+COMMIT"), None)
    if limit is None:
        return []
    commits = limit["value"]
    per_wf = next((m["detail"].get("commits_per_workflow", 5) for r in records if r["scenario"] == "pg_limit"
                   for m in r.get("metrics", []) if "commits_per_workflow" in m["detail"]), 5)
    lines = [
        "",
        "## PostgreSQL ceiling",
        "",
        f"One connection doing single-row INSERT + COMMIT: **{fmt(commits)} commits/s** "
        f"(synchronous_commit={limit['detail'].get('synchronous_commit')}, fsync={limit['detail'].get('fsync')}).",
        f"At {per_wf} commits per three-step workflow the sequential ceiling is **{fmt(commits / per_wf)} wf/s**.",
        "",
        "| impl | wf_seq wf/s (postgres) | share of ceiling | commit-equivalents per workflow |",
        "|---|---|---|---|",
    ]
    for impl, m in rows.get(("wf_seq", "throughput", "postgres"), {}).items():
        wfs = m["value"]
        lines.append(f"| {impl} | {fmt(wfs)} | {100 * wfs * per_wf / commits:.0f}% | {fmt(commits / wfs)} |")
    return lines


def render(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    rows = _index([r for r in records if r["scenario"] != "pg_limit"])
    lines = [
        "# Tether benchmark results",
        "",
        f"- mode: **{meta.get('mode')}**, finished {meta.get('finished_at')}, total {fmt(meta.get('wall_s'))} s",
        f"- machine: {meta.get('machine')}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in meta.get('versions', {}).items())}",
        "- ratio = tether / dbos; the verdict reads the ratio with the metric's direction "
        "(↑ higher is better, ↓ lower is better, 5% dead band).",
        "",
        "| scenario | metric | backend | tether | dbos | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for (scenario, metric, backend), row in rows.items():
        any_metric = next(iter(row.values()))
        unit = any_metric["unit"]
        arrow = {"higher": "↑", "lower": "↓"}.get(any_metric.get("better", ""), "")
        cells = [fmt(row[i]["value"]) if i in row else "-" for i in IMPLS]
        lines.append(f"| {scenario} | {metric} ({unit} {arrow}) | {backend} | {cells[0]} | {cells[1]} | "
                     f"{_ratio(row)} |")
    lines += _ceiling_section(records, rows)

    failed = [r for r in records if r.get("error")]
    if failed:
        lines += ["", "## Failed runs", ""]
        for r in failed:
            first = r["error"].splitlines()[0] if r["error"] else ""
            lines.append(f"- {r['impl']} / {r['backend']} / {r['scenario']}: `{first[:300]}` (log: {r.get('log')})")
    stale = [r for r in records if r.get("from_previous_run")]
    if stale:
        lines += ["", "Rows for these runs come from an earlier invocation (same mode): "
                  + ", ".join(sorted({f"{r['impl']}/{r['backend']}/{r['scenario']}" for r in stale}))]
    return "\n".join(lines) + "\n"
