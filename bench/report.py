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


def cell(metric: dict[str, Any] | None) -> str:
    """A value, or for a capped run "> value (done of W)" / "> cap (not reached)"."""
    if metric is None:
        return "-"
    detail = metric.get("detail", {})
    if not detail.get("lower_bound"):
        return fmt(metric["value"])
    value = metric["value"]
    counted = f"{detail.get('done', 0):,} of {detail.get('of', 0):,} done"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"> cap {fmt(detail.get('cap_s'))} s (not reached)"
    return f"> {fmt(value)} ({counted}, capped)"


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
    if not ours or not peer or not peer["value"] or math.isnan(peer["value"]) or math.isnan(ours["value"]):
        return "-"
    ratio = ours["value"] / peer["value"]
    better = peer.get("better", "")
    ours_bound, peer_bound = ours["detail"].get("lower_bound"), peer["detail"].get("lower_bound")
    if ours_bound and peer_bound:
        return "-"
    if ours_bound or peer_bound:
        # A lower bound in the numerator makes the true ratio larger, in the denominator smaller.
        sign = ">=" if ours_bound else "<="
        if better == "lower":
            verdict = "better" if peer_bound and ratio < 0.95 else "worse" if ours_bound and ratio > 1.05 else "?"
        elif better == "higher":
            verdict = "better" if ours_bound and ratio > 1.05 else "worse" if peer_bound and ratio < 0.95 else "?"
        else:
            return f"{sign} {ratio:.2f}"
        return f"{sign} {ratio:.2f} ({verdict})"
    if better == "higher":
        verdict = "better" if ratio > 1.05 else "worse" if ratio < 0.95 else "same"
    elif better == "lower":
        verdict = "better" if ratio < 0.95 else "worse" if ratio > 1.05 else "same"
    else:
        return f"{ratio:.2f}"
    return f"{ratio:.2f} ({verdict})"


def _ceiling_section(records: list[dict[str, Any]], rows: dict[Any, Any]) -> list[str]:
    limits = {m["name"]: m for r in records if r["scenario"] == "pg_limit" for m in r.get("metrics", [])}
    ceilings = [(name.partition(" ")[2].strip("()") or "psycopg", m) for name, m in limits.items()
                if name.startswith("INSERT+COMMIT")]
    if not ceilings:
        return []
    first = ceilings[0][1]
    per_wf = first["detail"].get("commits_per_workflow", 5)
    lines = [
        "",
        "## PostgreSQL ceiling",
        "",
        f"One connection doing single-row INSERTs, median of {len(first['detail'].get('reps', []))} repetitions "
        f"(synchronous_commit={first['detail'].get('synchronous_commit')}, fsync={first['detail'].get('fsync')}, "
        f"wal_sync_method={first['detail'].get('wal_sync_method')}). A three-step workflow needs {per_wf} commits "
        "(start, 3 steps, result), so the sequential ceiling is commits/s / " + f"{per_wf}.",
        "",
        "| loop | commits/s | µs per commit | ceiling wf/s | repetitions |",
        "|---|---|---|---|---|",
    ]
    for name, m in limits.items():
        if m["unit"] != "commits/s":
            continue
        ceiling = fmt(m["value"] / per_wf) if name.startswith("INSERT+COMMIT") else "-"
        reps = ", ".join(f"{r:,}" for r in m["detail"].get("reps", []))
        lines.append(f"| {name} | {fmt(m['value'])} | {fmt(1e6 / m['value'])} | {ceiling} | {reps} |")
    wf_seq = rows.get(("wf_seq", "throughput", "postgres"), {})
    if wf_seq:
        head = " | ".join(f"share of {label} ceiling (commit-equivalents/wf)" for label, _ in ceilings)
        lines += ["", f"| impl | wf_seq wf/s (postgres) | {head} |", "|---|---|" + "---|" * len(ceilings)]
        for impl in IMPLS:
            if impl not in wf_seq:
                continue
            wfs = wf_seq[impl]["value"]
            shares = " | ".join(f"{100 * wfs * per_wf / m['value']:.0f}% ({fmt(m['value'] / wfs)})"
                                for _, m in ceilings)
            lines.append(f"| {impl} | {fmt(wfs)} | {shares} |")
    return lines


MIB_PER_MB = 1e6 / 2**20  # the "150 MB" is decimal megabytes


def _metric(rows: dict[Any, Any], scenario: str, name: str, backend: str, impl: str) -> dict[str, Any] | None:
    m = rows.get((scenario, name, backend), {}).get(impl)
    if m is None or m["value"] is None or math.isnan(m["value"]):
        return None
    return m  # type: ignore[no-any-return]


def _targets_section(records: list[dict[str, Any]], rows: dict[Any, Any]) -> list[str]:
    """The issue's targets, each with the measured figure and a verdict (from this run only)."""
    out: list[tuple[str, str, str]] = []

    def speedup(label: str, scenario: str, name: str, backend: str, need: float, higher: bool) -> None:
        ours, peer = (_metric(rows, scenario, name, backend, i) for i in IMPLS)
        if ours is None or peer is None:
            out.append((label, "not measured", "-"))
            return
        x = ours["value"] / peer["value"] if higher else peer["value"] / ours["value"]
        bound = peer["detail"].get("lower_bound") or ours["detail"].get("lower_bound")
        shown = f"{fmt(x)}x peer" if higher else f"1/{fmt(x)} of peer"
        wanted = f"{need:g}x" if higher else f"1/{need:g}"
        got = f"{fmt(ours['value'])} vs {fmt(peer['value'])} {ours['unit']}: {shown}"
        if bound:
            got = f"{got} (a bound: one side was capped)"
        verdict = "met" if x >= need else f"not met: {shown}, needs {wanted} ({x / need:.0%} of the way)"
        out.append((label, got, verdict))

    speedup("wf_seq >= 5x peer wf/s", "wf_seq", "throughput", "postgres", 5, True)
    ceilings = {m["name"]: m for r in records if r["scenario"] == "pg_limit" for m in r.get("metrics", [])
                if m["name"].startswith("INSERT+COMMIT")}
    wf_seq = _metric(rows, "wf_seq", "throughput", "postgres", "tether")
    for name, m in ceilings.items():
        label = f"wf_seq >= 50% of the pg_limit ceiling {name.partition(' ')[2]}".rstrip()
        if wf_seq is None:
            out.append((label, "not measured", "-"))
            continue
        per_wf = m["detail"].get("commits_per_workflow", 5)
        share = wf_seq["value"] * per_wf / m["value"]
        out.append((label, f"{fmt(wf_seq['value'])} wf/s of {fmt(m['value'] / per_wf)} wf/s: {share:.0%}",
                    "met" if share >= 0.5 else f"not met: {share:.0%} of 50% needed"))
    for n in (32, 256):
        for mode in ("sync", "async"):
            speedup(f"wf_concurrent {mode} x{n} >= 5x peer", "wf_concurrent", f"throughput {mode} x{n}",
                    "postgres", 5, True)
    for scenario, name in (("send_recv_latency", "send->recv p50"), ("event_latency", "set_event->get_event p50")):
        speedup(f"{scenario} p50 <= 1/4 of peer (postgres)", scenario, name, "postgres", 4, False)
        speedup(f"{scenario} p50 <= 1/20 of peer (sqlite)", scenario, name, "sqlite", 20, False)
    speedup("stream write throughput >= 3x peer", "stream", "write throughput", "postgres", 3, True)
    speedup("stream reader latency p99 <= 1/4 of peer", "stream", "write->read p99", "postgres", 4, False)

    finish = _metric(rows, "many_waiting", "send all + finish W=10000", "postgres", "tether")
    if finish is None:
        out.append(("many_waiting W=10,000: all finish", "not measured", "-"))
    else:
        d = finish["detail"]
        all_done = not d.get("lower_bound") and d.get("finished", 10000) == 10000
        out.append(("many_waiting W=10,000: all finish",
                    f"{d.get('finished', '?'):,} of 10,000 finished in {fmt(finish['value'])} s after the sends"
                    if isinstance(d.get("finished"), int) else f"finished in {fmt(finish['value'])} s",
                    "met" if all_done else "not met"))
    threads = {w: _metric(rows, "many_waiting", f"OS threads while waiting W={w}", "postgres", "tether")
               for w in (1000, 10000)}
    if all(threads.values()):
        t1, t10 = threads[1000]["value"], threads[10000]["value"]  # type: ignore[index]
        out.append(("many_waiting: thread count independent of W", f"{t1:.0f} threads at W=1,000, {t10:.0f} at "
                    "W=10,000", "met" if t10 <= t1 + 2 else f"not met: +{t10 - t1:.0f} threads for 10x W"))
    else:
        out.append(("many_waiting: thread count independent of W", "not measured", "-"))
    rss = _metric(rows, "many_waiting", "peak RSS above baseline W=10000", "postgres", "tether")
    if rss is None:
        out.append(("many_waiting W=10,000: peak RSS <= 150 MB above baseline", "not measured", "-"))
    else:
        mb = rss["value"] / MIB_PER_MB
        out.append(("many_waiting W=10,000: peak RSS <= 150 MB above baseline",
                    f"{fmt(rss['value'])} MiB = {fmt(mb)} MB above baseline",
                    "met" if mb <= 150 else f"not met: {fmt(mb - 150)} MB over"))
    speedup("recovery: 200 pending recovered and finished >= 3x faster than peer", "recovery",
            "all SUCCESS after launch n=200", "postgres", 3, False)

    if not out:
        return []
    lines = ["", "## Targets (issue 7; PostgreSQL unless marked; ratios from this run)", "",
             "| target | measured (tether vs dbos) | verdict |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in out]
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
        cells = [cell(row.get(i)) for i in IMPLS]
        lines.append(f"| {scenario} | {metric} ({unit} {arrow}) | {backend} | {cells[0]} | {cells[1]} | "
                     f"{_ratio(row)} |")
    lines += _ceiling_section(records, rows)
    if meta.get("mode") == "full":
        lines += _targets_section(records, rows)

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
