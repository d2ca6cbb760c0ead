"""Render the collected scenario results as Markdown: one table with tether, dbos and the ratio ours/peer."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bench.floors import PREFIX, floor_of, floor_section, floor_values, inrun_values

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


def backend_label(rec: dict[str, Any]) -> str:
    """The backend, and for a variant run with extra DBOS config, that config ("sqlite, dbos polling 0.001 s")."""
    config = rec.get("params", {}).get("config")
    if not config:
        return str(rec["backend"])
    poll = config.get("notification_listener_polling_interval_sec")
    extra = f"polling {poll:g} s" if poll is not None and len(config) == 1 else \
        ", ".join(f"{k}={v}" for k, v in config.items())
    return f"{rec['backend']}, {rec['impl']} {extra}"


def _index(records: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    """(scenario, metric, backend) -> impl -> metric dict; scenarios and metrics in first-seen order,
    the backends of one metric next to each other."""
    rows: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for rec in records:
        for m in rec.get("metrics", []):
            if m["name"].startswith(PREFIX):
                continue  # the scenario's floor samples: used for the floor columns, not rows of their own
            key = (rec["scenario"], m["name"], backend_label(rec))
            rows.setdefault(key, {})[rec["impl"]] = m
    # A row of one implementation's variant (dbos with faster polling) is compared with the other's plain row.
    for (scenario, name, backend), row in rows.items():
        plain = rows.get((scenario, name, backend.split(",")[0]), {})
        for impl in IMPLS:
            if impl not in row and impl in plain:
                row[impl] = plain[impl]
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


def _commit_equivalents(rows: dict[Any, Any], records: list[dict[str, Any]], backend: str, impl: str
                        ) -> float | None:
    """How many of its own run's back-to-back commits one sequential workflow took (wf_seq): the wall time
    per workflow divided by the commit floor that run measured between its repetitions."""
    tput = _metric(rows, "wf_seq", "throughput", backend, impl)
    rec = next((r for r in records if r["scenario"] == "wf_seq" and r["impl"] == impl and r["backend"] == backend
                and not r.get("error")), None)
    if tput is None or rec is None:
        return None
    commit = inrun_values(rec).get("commit back-to-back p50")
    if not commit:
        return None
    return 1000.0 / (tput["value"] * commit)


FloorLookup = Callable[[str, str, str, str], "tuple[str, float] | None"]


def _floor_lookup(records: list[dict[str, Any]]) -> FloorLookup:
    """(scenario, metric, backend label, impl) -> the row's floor (label, ms) as timed in that implementation's
    own run of the scenario, else from the floor scenario, else None."""
    standalone = floor_values(records)
    inrun = {(r["scenario"], backend_label(r), r["impl"]): inrun_values(r) for r in records}

    def floor_for(scenario: str, metric: str, backend: str, impl: str) -> tuple[str, float] | None:
        own = inrun.get((scenario, backend, impl)) or inrun.get((scenario, backend.split(",")[0], impl))
        return floor_of(own or {}, scenario, metric, backend) or \
            floor_of(standalone.get(backend.split(",")[0], {}), scenario, metric, backend)

    return floor_for


def _targets_section(records: list[dict[str, Any]], rows: dict[Any, Any]) -> list[str]:
    """The targets of issue 17, each with the measured figure and a verdict (from this run only)."""
    out: list[tuple[str, str, str]] = []
    floor_for = _floor_lookup(records)

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
        fl = [floor_for(scenario, name, backend, i) for i in IMPLS]
        tput = None
        if higher and name == "throughput" and scenario == "wf_seq":
            tput = [_commit_equivalents(rows, records, backend, i) for i in IMPLS]
        if fl[0] is not None and fl[1] is not None and not bound:
            # Each side divided by the floor its own run measured: the machine's load moved the floor by
            # several times between the two runs of a row, and this takes that out.
            xn = (peer["value"] / fl[1][1]) / (ours["value"] / fl[0][1])
            got += f"; floor-normalized ({fmt(ours['value'] / fl[0][1])}x vs {fmt(peer['value'] / fl[1][1])}x " \
                   f"floor): 1/{fmt(xn)} of peer"
            verdict += "; floor-normalized: " + ("met" if xn >= need else f"not met ({xn / need:.0%} of the way)")
        elif tput is not None and tput[0] is not None and tput[1] is not None:
            xn = tput[1] / tput[0]
            got += f"; in commits of its own run: {fmt(tput[0])} vs {fmt(tput[1])} commit-equivalents per " \
                   f"workflow: {fmt(xn)}x peer"
            verdict += "; floor-normalized: " + ("met" if xn >= need else f"not met ({xn / need:.0%} of the way)")
        out.append((label, got, verdict))

    def against_floor(label: str, scenario: str, name: str, backend: str, most: float) -> None:
        ours = _metric(rows, scenario, name, backend, "tether")
        floor = floor_for(scenario, name, backend, "tether")
        if ours is None or floor is None:
            out.append((label, "not measured", "-"))
            return
        x = ours["value"] / floor[1]
        out.append((label, f"{fmt(ours['value'])} ms against a floor of {fmt(floor[1])} ms ({floor[0]}): "
                    f"{x:.2f}x floor", "met" if x <= most else f"not met: {x:.2f}x, needs <= {most:g}x"))

    speedup("send->recv p50 from the call <= 1/5 of dbos", "send_recv_latency", "send->recv p50", "postgres",
            5, False)
    against_floor("send->recv p50 from the call <= 1.5x its floor", "send_recv_latency", "send->recv p50",
                  "postgres", 1.5)
    speedup("set_event->get_event p50 from the call <= 1/8 of dbos", "event_latency", "set_event->get_event p50",
            "postgres", 8, False)
    for scenario, name in (("send_recv_latency", "send() call p50"), ("event_latency", "set_event() call p50")):
        against_floor(f"{name.removesuffix(' p50')} costs about one commit (<= 1.5x; informational)", scenario,
                      name, "postgres", 1.5)
    speedup("async workflows, 256 in flight >= 20x dbos", "wf_concurrent", "throughput async x256", "postgres",
            20, True)
    ceiling = next((m for r in records if r["scenario"] == "pg_limit" for m in r.get("metrics", [])
                    if m["name"] == "INSERT+COMMIT (psycopg)"), None)
    async256 = _metric(rows, "wf_concurrent", "throughput async x256", "postgres", "tether")
    if ceiling is None or async256 is None:
        out.append(("async x256: more commits/s than one connection's ceiling", "not measured", "-"))
    else:
        per_wf = ceiling["detail"].get("commits_per_workflow", 5)
        commits = async256["value"] * per_wf
        out.append(("async x256: more commits/s than one connection's ceiling",
                    f"{fmt(async256['value'])} wf/s x {per_wf} = {fmt(commits)} commits/s against "
                    f"{fmt(ceiling['value'])} commits/s on one connection ({commits / ceiling['value']:.2f}x)",
                    "met" if commits > ceiling["value"] else "not met"))
    speedup("sequential workflows >= 6x dbos (no regression)", "wf_seq", "throughput", "postgres", 6, True)

    big = 100000
    finish = _metric(rows, "many_waiting", f"send all + finish W={big}", "postgres", "tether")
    if finish is None:
        out.append(("100,000 waiters: all finish after one message each", "not measured", "-"))
    else:
        d = finish["detail"]
        all_done = not d.get("lower_bound") and d.get("finished") == big
        out.append(("100,000 waiters: all finish after one message each",
                    f"{d.get('finished', 0):,} of {big:,} finished, {fmt(finish['value'])} s after the first send",
                    "met" if all_done else "not met"))
    rss = _metric(rows, "many_waiting", f"peak RSS above baseline W={big}", "postgres", "tether")
    per = _metric(rows, "many_waiting", f"RSS per waiter W={big}", "postgres", "tether")
    if rss is None:
        out.append(("100,000 waiters: RSS above baseline <= 1.5 GB", "not measured", "-"))
    else:
        gb = rss["value"] * 2**20 / 1e9
        extra = f", {fmt(per['value'])} KiB per waiter" if per else ""
        out.append(("100,000 waiters: RSS above baseline <= 1.5 GB",
                    f"{fmt(rss['value'])} MiB = {gb:.2f} GB (peak){extra}",
                    "met" if gb <= 1.5 else f"not met: {gb:.2f} GB"))
    threads = {w: _metric(rows, "many_waiting", f"OS threads while waiting W={w}", "postgres", "tether")
               for w in (100, big)}
    small_t, big_t = threads[100], threads[big]
    if small_t is None or big_t is None:
        out.append(("100,000 waiters: threads as with 100", "not measured", "-"))
    else:
        t1, t2 = small_t["value"], big_t["value"]
        out.append(("100,000 waiters: threads as with 100", f"{t1:.0f} OS threads at W=100, {t2:.0f} at W=100,000",
                    "met" if t2 <= t1 + 2 else f"not met: +{t2 - t1:.0f} threads"))

    sse = _metric(rows, "sse_readers", "write->delivery p50", "postgres", "tether") or \
        _metric(rows, "sse_readers", "write->delivery p50", "sqlite", "tether")
    if sse is None:
        out.append(("10,000 SSE readers: p50 write->delivery <= 100 ms, none missing a value", "not measured", "-"))
    else:
        d = sse["detail"]
        wrong = d.get("readers_with_wrong_sequence")
        ok = sse["value"] <= 100 and wrong == 0 and d.get("readers") == 10000
        out.append(("10,000 SSE readers: p50 write->delivery <= 100 ms, none missing a value",
                    f"{d.get('readers', 0):,} readers x {d.get('values')} values: p50 {fmt(sse['value'])} ms, "
                    f"p99 {fmt(d.get('p99_ms'))} ms; readers missing/repeating a value: {wrong}",
                    "met" if ok else "not met"))

    if not out:
        return []
    lines = ["", "## Targets (issue 17; PostgreSQL unless marked; ratios from this run)", "",
             "| target | measured (tether vs dbos) | verdict |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in out]
    return lines


def render(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    rows = _index([r for r in records if r["scenario"] not in ("pg_limit", "floor")])
    floor_for = _floor_lookup(records)

    lines = [
        "# Tether benchmark results",
        "",
        f"- mode: **{meta.get('mode')}**, finished {meta.get('finished_at')}, total {fmt(meta.get('wall_s'))} s",
        f"- machine: {meta.get('machine')}",
        f"- versions: {', '.join(f'{k} {v}' for k, v in meta.get('versions', {}).items())}",
        "- ratio = tether / dbos; the verdict reads the ratio with the metric's direction "
        "(↑ higher is better, ↓ lower is better, 5% dead band).",
        "- every latency is measured from the caller's call to the receiver's return (an 'after return' row "
        "says so). floor = the physical floor of that latency (bench/floors.py), timed by each implementation's "
        "run of the scenario between its own round trips (tether's / dbos's run); x floor = the latency as a "
        "multiple of the floor of the same run; floor-normalized ratio = tether x floor / dbos x floor (each "
        "side against the floor its own run measured, which takes out the load's drift between the two runs).",
        "",
        "| scenario | metric | backend | tether | dbos | ratio | floor ms (tether's / dbos's run) | tether x floor "
        "| dbos x floor | floor-normalized ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (scenario, metric, backend), row in rows.items():
        any_metric = next(iter(row.values()))
        unit = any_metric["unit"]
        arrow = {"higher": "↑", "lower": "↓"}.get(any_metric.get("better", ""), "")
        cells = [cell(row.get(i)) for i in IMPLS]
        own = [floor_for(scenario, metric, backend, i) for i in IMPLS]
        multiples = [f"{row[i]['value'] / f[1]:.2f}" if f is not None and i in row
                     and not row[i]["detail"].get("lower_bound") else "-" for i, f in zip(IMPLS, own, strict=True)]
        label = next((f[0] for f in own if f is not None), "")
        shown_floor = f"{' / '.join(fmt(f[1]) if f else '-' for f in own)} ({label})" if label else "-"
        normalized = "-"
        if "-" not in multiples:
            normalized = f"{float(multiples[0]) / float(multiples[1]):.2f}"
        lines.append(f"| {scenario} | {metric} ({unit} {arrow}) | {backend} | {cells[0]} | {cells[1]} | "
                     f"{_ratio(row)} | {shown_floor} | {multiples[0]} | {multiples[1]} | {normalized} |")
    lines += floor_section(records)
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
