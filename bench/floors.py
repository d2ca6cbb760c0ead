"""Each latency's physical floor, measured in the same run.

A floor is a sum of measured operations: ``FLOORS[(scenario, metric prefix)][backend]`` lists the operations
(without their " p50"/" p99" suffix) that add up to it, and a label saying what it is. A p50 row is divided by
the sum of the components' p50s, a p99 row by the sum of their p99s. The operations come from the
scenario's own record when it timed them alongside its round trips (``floor: <operation>`` metrics, see
``bench/floorprobe.py``: same process, same minutes, same idle gaps), else from the ``floor`` scenario of
the run (``bench/scenarios/floor.py``).
"""

from __future__ import annotations

import math
from typing import Any

# (scenario, metric without " p50"/" p99") -> backend -> (label, components)
FLOORS: dict[tuple[str, str], dict[str, tuple[str, list[str]]]] = {
    # The sender's commit with its wake-up delivered, then the receiver's commit (recv records what it took)
    # on a connection of its own that sat idle as long as the sender's did (another process's, in general):
    # "commit after idle". ("commit right after", the same commit on the sender's warm connection at once, is
    # reported too; it would make this floor lower by their difference.) This is the floor of a message that
    # is queued and then taken; Tether's hand-off (engine/handoff.py: the receiver parked in the sender's
    # process, as in this scenario) does both in the sender's one commit, and so can go below it.
    ("send_recv_latency", "send->recv"): {
        "postgres": ("2 commits + 1 NOTIFY", ["commit+NOTIFY delivered after idle", "commit after idle"]),
        "sqlite": ("2 commits + 1 thread wake-up", ["commit+wake-up after idle", "commit after idle"]),
    },
    ("send_recv_latency", "send() call"): {
        "postgres": ("1 commit", ["commit after idle"]),
        "sqlite": ("1 commit", ["commit after idle"]),
    },
    # The writer's commit with its wake-up delivered (not counting the reader's query of the value).
    ("event_latency", "set_event->get_event"): {
        "postgres": ("1 commit + 1 NOTIFY", ["commit+NOTIFY delivered after idle"]),
        "sqlite": ("1 commit + 1 thread wake-up", ["commit+wake-up after idle"]),
    },
    ("event_latency", "set_event() call"): {
        "postgres": ("1 commit", ["commit after idle"]),
        "sqlite": ("1 commit", ["commit after idle"]),
    },
    ("stream", "write->read"): {
        "postgres": ("1 commit + 1 NOTIFY, back-to-back", ["commit+NOTIFY delivered back-to-back"]),
        "sqlite": ("1 commit + 1 thread wake-up, back-to-back", ["commit+wake-up back-to-back"]),
    },
    ("wf_seq", "latency"): {
        "postgres": ("5 commits, back-to-back", ["commit back-to-back"] * 5),
        "sqlite": ("5 commits, back-to-back", ["commit back-to-back"] * 5),
    },
}


PREFIX = "floor: "


def floor_values(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """backend -> operation (with its " p50"/" p99") -> ms, from the ``floor`` scenario."""
    out: dict[str, dict[str, float]] = {}
    for rec in records:
        if rec["scenario"] == "floor" and not rec.get("error"):
            for m in rec.get("metrics", []):
                out.setdefault(rec["backend"], {})[m["name"]] = m["value"]
    return out


def inrun_values(rec: dict[str, Any]) -> dict[str, float]:
    """operation (with its " p50"/" p99") -> ms, as timed by the scenario itself (``floor: ...`` metrics)."""
    return {m["name"].removeprefix(PREFIX): m["value"] for m in rec.get("metrics", [])
            if m["name"].startswith(PREFIX)}


def floor_of(measured: dict[str, float], scenario: str, metric: str, backend: str) -> tuple[str, float] | None:
    """The floor (label, ms) of one latency row from ``measured`` (operation -> ms), or None (not a latency
    with a floor, or its operations were not measured)."""
    base, _, pct = metric.rpartition(" ")
    if pct not in ("p50", "p99"):
        return None
    spec = FLOORS.get((scenario, base), {}).get(backend.split(",")[0])
    if spec is None:
        return None
    label, parts = spec
    values = [measured.get(f"{p} {pct}") for p in parts]
    if any(v is None or math.isnan(v) for v in values):
        return None
    return label, float(sum(v for v in values if v is not None))


def floor_section(records: list[dict[str, Any]]) -> list[str]:
    """The floor measurements themselves, one table per backend."""
    lines: list[str] = []
    for rec in records:
        if rec["scenario"] != "floor" or rec.get("error"):
            continue
        metrics = {m["name"]: m for m in rec.get("metrics", [])}
        names = [n.removesuffix(" p50") for n in metrics if n.endswith(" p50")]
        first = next(iter(metrics.values()), {"detail": {}})
        settle = first["detail"].get("settle_s")
        lines += ["", f"### Floors, {rec['backend']} (ms; {first['detail'].get('reps', '?')} repetitions, "
                  f"'after idle' = after {settle} s without activity, as the latency scenarios wait)", "",
                  "| operation | p50 | p99 | repetitions' p50s |", "|---|---|---|---|"]
        for name in names:
            p50, p99 = metrics[f"{name} p50"], metrics.get(f"{name} p99")
            reps = ", ".join(f"{v:.3g}" for v in p50["detail"].get("rep_p50s", []))
            lines.append(f"| {name} | {p50['value']:.3g} | {p99['value'] if p99 else math.nan:.3g} | {reps} |")
    return lines
