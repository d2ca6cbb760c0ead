"""select_latency: ``DBOS.select`` over 4 topics next to ``DBOS.recv`` on one topic, in one run (tether only).

Each round starts a workflow that publishes a "ready" event and then blocks in one of four waits: ``recv("t3")``,
``select`` over the topics t0..t3, or their async forms in an async workflow. The message always goes to t3,
the last topic of the select, so every look of the select passes three empty topics. The bench waits for
"ready" (``get_event``), sleeps ``settle_s`` so the workflow is surely parked, notes ``perf_counter()``, calls
``send``; the workflow returns ``perf_counter()`` taken right after its wait returned (same process, same
clock). Latency is measured from the send *call* (so it includes the send itself); the send call alone is also
reported. The four kinds take turns round by round, so drift on a shared machine hits them alike. Stops after
``n`` rounds or ``budget_s`` seconds, whichever comes first (at least ``min_n``).
"""

from __future__ import annotations

import time

from bench.common import DBOS, Metric, latency_metrics, launched, percentile

TOPICS = ["t0", "t1", "t2", "t3"]
KINDS = ["recv", "select4", "recv_async", "select4_async"]


@DBOS.workflow()
def waiter(kind: str) -> float:
    from tether import on_message

    DBOS.set_event("ready", True)
    if kind == "recv":
        got = DBOS.recv("t3", timeout_seconds=30)
    else:
        picked = DBOS.select([on_message(t) for t in TOPICS], timeout_seconds=30)
        got = None if picked is None else picked.value
    returned = time.perf_counter()
    if got is None:
        raise TimeoutError(f"{kind} timed out")
    return returned


@DBOS.workflow()
async def waiter_async(kind: str) -> float:
    from tether import on_message

    await DBOS.set_event_async("ready", True)
    if kind == "recv_async":
        got = await DBOS.recv_async("t3", timeout_seconds=30)
    else:
        picked = await DBOS.select_async([on_message(t) for t in TOPICS], timeout_seconds=30)
        got = None if picked is None else picked.value
    returned = time.perf_counter()
    if got is None:
        raise TimeoutError(f"{kind} timed out")
    return returned


def run(url: str, n: int = 60, settle_s: float = 0.05, warmup: int = 2, budget_s: float = 30.0,
        min_n: int = 10) -> list[Metric]:
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    send_calls: list[float] = []
    with launched(url):
        deadline = time.monotonic() + budget_s
        for i in range(warmup + n):
            if i >= warmup + min_n and time.monotonic() > deadline:
                break
            for kind in KINDS:
                func = waiter_async if kind.endswith("_async") else waiter
                handle = DBOS.start_workflow(func, kind)
                if DBOS.get_event(handle.workflow_id, "ready", timeout_seconds=30) is not True:
                    raise TimeoutError("workflow never became ready")
                time.sleep(settle_s)
                before = time.perf_counter()
                DBOS.send(handle.workflow_id, "go", "t3")
                after = time.perf_counter()
                returned = handle.get_result()
                if i >= warmup:
                    latencies[kind].append(returned - before)
                    send_calls.append(after - before)
    out: list[Metric] = []
    for kind, label in [("recv", "send->recv"), ("select4", "send->select(4 topics)"),
                        ("recv_async", "send->recv_async"), ("select4_async", "send->select_async(4 topics)")]:
        out += latency_metrics(label, latencies[kind])
    for sync in ("", "_async"):
        ratio = percentile(latencies[f"select4{sync}"], 50) / percentile(latencies[f"recv{sync}"], 50)
        out.append(Metric(f"select{sync} p50 / recv{sync} p50", ratio, "x", "lower"))
    return [*out, *latency_metrics("send() call", send_calls)]
