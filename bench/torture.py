"""Torture: workflows with steps, children, recv, events and streams, under SIGKILLs at random moments, for N
minutes; then count what was tried, finished, lost and duplicated.

    python3 bench/torture.py --db sqlite:////tmp/torture.sqlite --minutes 10
    python3 bench/torture.py --db postgresql://postgres@127.0.0.1:5432/torture --minutes 10

(with ``PYTHONPATH=src``). A PostgreSQL database is created if missing and emptied first; a SQLite file is
replaced. What runs:

- ``--workers`` worker processes, all with the default executor ID ("local"), serving two queues (one with a
  global concurrency of 3). The chaos loop SIGKILLs a random worker (or the sender) every 0.3-3 s; a fresh
  process replaces it after 0-2 s, so killed processes never come back as themselves: their workflows are
  adopted by the live ones.
- Each workflow starts a child workflow (steps and an event), then receives ``2 + 2`` messages, writing each
  to a stream and counting them in an event, with a slow step every other message, and returns the messages.
  Every step holds an exclusive ``flock`` named after its workflow: two executions of one workflow at once,
  in any two processes, are counted as ``concurrent``.
- This process enqueues the workflows and sends two messages to each without idempotency keys (it is never
  killed, so each send happens once). A sender process, killed like the workers, sends two more to each with
  idempotency keys; when replaced, the new sender sends again every message whose send was not confirmed in
  its log, and the last 50 confirmed ones too: those must be no-ops.

At the end (no more starts, no more kills) it waits for every workflow and checks each one: status SUCCESS,
the result holds each expected message once (``lost``: sent but never received, or a workflow that did not
finish; ``duplicated``: received twice, or unexpected), the stream equals the result in order, the event
counts them, and the child's result is right. Prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

QUEUES = ("torture", "torture-limited")
KEYED = 2
UNKEYED = 2
HEARTBEAT = {"heartbeat_interval_sec": 0.5, "heartbeat_timeout_sec": 2.5}


# -- the worker process ---------------------------------------------------------------------------------------

def worker(db: str, workdir: Path) -> None:
    from tether import DBOS, Queue

    Queue(QUEUES[0])
    Queue(QUEUES[1], concurrency=3)
    locks = workdir / "locks"

    def exclusive(wfid: str) -> int:
        fd = os.open(locks / wfid, os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with open(workdir / "concurrent", "a") as f:
                f.write(f"{wfid} {os.getpid()}\n")
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    @DBOS.step(name="torture_work")
    def work(j: int) -> int:
        fd = exclusive(str(DBOS.workflow_id))
        try:
            with open(workdir / "step_runs", "a") as f:
                f.write(f"{DBOS.workflow_id} {j}\n")
            time.sleep(random.uniform(0.01, 0.2))
        finally:
            os.close(fd)
        return j

    @DBOS.workflow(name="torture_child")
    def child(n: int) -> int:
        total = work(0) + work(1)
        DBOS.set_event("child", n)
        return n + total

    @DBOS.workflow(name="torture_parent")
    def parent(n: int) -> dict[str, Any]:
        kid = DBOS.start_workflow(child, n)
        got: list[str] = []
        for j in range(KEYED + UNKEYED):
            msg = DBOS.recv("t", timeout_seconds=3600)
            if msg is None:
                break
            got.append(msg)
            DBOS.write_stream("s", msg)
            DBOS.set_event("count", len(got))
            if j % 2 == 0:
                work(j)
        return {"got": got, "child": kid.get_result()}

    DBOS(config={"name": "torture", "system_database_url": db, "application_version": "torture",
                 "sqlite_poll_interval_sec": 0.05, **HEARTBEAT})  # type: ignore[typeddict-item]
    DBOS.launch()
    print("ready", flush=True)
    signal.pause()


# -- the sender process (idempotency keys) ------------------------------------------------------------------

def sender(db: str, workdir: Path) -> None:
    """Reads workflow IDs on stdin; sends KEYED messages to each with idempotency keys, logging intent and
    confirmation in ``sender_log``."""
    from tether import DBOSClient

    log = workdir / "sender_log"
    with DBOSClient(db) as client:
        print("ready", flush=True)
        for line in sys.stdin:
            wfid = line.strip()
            for j in range(KEYED):
                key = f"{wfid}/k{j}"
                with open(log, "a") as f:
                    f.write(f"intend {wfid} {j}\n")
                client.send(wfid, f"k:{wfid}:{j}", "t", idempotency_key=key)
                with open(log, "a") as f:
                    f.write(f"sent {wfid} {j}\n")


# -- the orchestrator --------------------------------------------------------------------------------------

class Child:
    def __init__(self, role: str, db: str, workdir: Path) -> None:
        self.role = role
        with open(workdir / "processes.log", "a") as log:  # their warnings and tracebacks, for a post-mortem
            self.proc = subprocess.Popen([sys.executable, __file__, "--role", role, "--db", db, "--workdir",
                                          str(workdir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{role} did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def sent_keys(workdir: Path) -> tuple[set[str], list[str]]:
    """Workflow IDs with every keyed send confirmed, and the confirmation order."""
    path = workdir / "sender_log"
    done: Counter[str] = Counter()
    order: list[str] = []
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "sent":
                done[parts[1]] += 1
                if done[parts[1]] == KEYED:
                    order.append(parts[1])
    return {w for w, n in done.items() if n >= KEYED}, order


def feed(sender_proc: Child, wfids: list[str]) -> None:
    assert sender_proc.proc.stdin is not None
    sender_proc.proc.stdin.write("".join(f"{w}\n" for w in wfids))
    sender_proc.proc.stdin.flush()


def prepare(db: str, workdir: Path) -> None:
    if db.startswith("sqlite"):
        path = Path(db.split("sqlite:///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    import psycopg

    base, _, name = db.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    from tether import DBOSClient

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for f in workdir.glob("*"):
        if f.is_file():
            f.unlink()
    (workdir / "locks").mkdir(exist_ok=True)
    prepare(args.db, workdir)
    rng = random.Random(args.seed)
    assigned: list[str] = []
    unkeyed: dict[str, list[str]] = {}

    def spawn(role: str) -> Child:
        child = Child("sender" if role == "sender" else "worker", args.db, workdir)
        if role == "sender":  # send again whatever was not confirmed, and a few confirmed ones (no-ops)
            confirmed, order = sent_keys(workdir)
            feed(child, [w for w in assigned if w not in confirmed] + order[-50:])
        return child

    procs: dict[str, Child | None] = {f"worker{i}": spawn(f"worker{i}") for i in range(args.workers)}
    procs["sender"] = spawn("sender")
    down: dict[str, float] = {}  # role -> when its replacement starts
    kills = 0
    started = time.monotonic()
    end = started + args.minutes * 60
    next_kill = started + rng.uniform(0.3, 3.0)
    with DBOSClient(args.db) as client:
        n = 0
        while time.monotonic() < end:
            wfid = f"t-{n:06d}"
            client.enqueue({"queue_name": QUEUES[n % 2], "workflow_name": "torture_parent",
                            "workflow_id": wfid}, n)
            assigned.append(wfid)
            unkeyed[wfid] = [f"u:{wfid}:{j}" for j in range(UNKEYED)]
            for msg in unkeyed[wfid]:
                client.send(wfid, msg, "t")
            sender_proc = procs["sender"]
            if sender_proc is not None:
                feed(sender_proc, [wfid])  # if it dies first, its replacement sends it
            n += 1
            now = time.monotonic()
            if now >= next_kill:
                role = rng.choice([r for r, c in procs.items() if c is not None])
                victim = procs[role]
                assert victim is not None
                victim.kill()
                procs[role] = None
                down[role] = now + rng.uniform(0.0, 2.0)
                kills += 1
                next_kill = now + rng.uniform(0.3, 3.0)
            for role, at in list(down.items()):
                if at <= now:
                    del down[role]
                    procs[role] = spawn(role)
            time.sleep(max(0.0, started + n / args.rate - time.monotonic()))
        chaos_s = time.monotonic() - started
        for role in list(down):  # the end: nothing is killed any more; whatever is down comes back
            procs[role] = spawn(role)
        settle = time.monotonic() + args.settle
        while sent_keys(workdir)[0] < set(assigned) and time.monotonic() < settle:
            time.sleep(0.2)
        counts = verify(client, workdir, assigned, unkeyed, settle)
    for role, child in procs.items():
        if child is None:
            continue
        if role == "sender" and child.proc.stdin is not None:
            child.proc.stdin.close()
            child.proc.wait(timeout=30)
        else:
            child.kill()
    counts.update(kills=kills, minutes=round(chaos_s / 60, 2), backend=args.db.split(":")[0],
                  workers=args.workers)
    return counts


def verify(client: Any, workdir: Path, assigned: list[str], unkeyed: dict[str, list[str]],
           settle: float) -> dict[str, Any]:
    finished = lost = duplicated = unfinished = bad_stream = bad_event = bad_child = 0
    keyed_confirmed, _ = sent_keys(workdir)
    for wfid in assigned:
        n = int(wfid[2:])
        expected = set(unkeyed[wfid])
        if wfid in keyed_confirmed:
            expected |= {f"k:{wfid}:{j}" for j in range(KEYED)}
        try:
            out = client.retrieve_workflow(wfid).get_result(timeout_seconds=max(1.0, settle - time.monotonic()))
        except Exception as exc:  # not finished in time, or failed: everything it should have got is lost
            print(f"{wfid}: {type(exc).__name__}: {exc}", file=sys.stderr)
            unfinished += 1
            lost += len(expected)
            continue
        got = out["got"]
        c = Counter(got)
        lost += len(expected - set(got))
        duplicated += sum(v - 1 for v in c.values()) + len(set(got) - expected)
        if list(client.read_stream_nowait(wfid, "s").values) != got:
            bad_stream += 1
        if client.get_event(wfid, "count", timeout_seconds=0) != len(got):
            bad_event += 1
        if out["child"] != n + 1:
            bad_child += 1
        if not (expected - set(got)) and len(c) == len(got) and set(got) <= expected:
            finished += 1
    concurrent_path = workdir / "concurrent"
    concurrent = len(concurrent_path.read_text().splitlines()) if concurrent_path.exists() else 0
    step_runs_path = workdir / "step_runs"
    step_runs = len(step_runs_path.read_text().splitlines()) if step_runs_path.exists() else 0
    return {"tried": len(assigned), "finished": finished, "lost": lost, "duplicated": duplicated,
            "unfinished": unfinished, "stream_mismatch": bad_stream, "event_mismatch": bad_event,
            "child_mismatch": bad_child, "concurrent_runs": concurrent,
            "step_runs": step_runs, "steps_checkpointed_min": len(assigned) * 4}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, help="sqlite:///path or postgresql://.../dbname (emptied first)")
    p.add_argument("--minutes", type=float, default=1.0, help="how long to start workflows and kill processes")
    p.add_argument("--workers", type=int, default=3, help="worker processes (all executor ID 'local')")
    p.add_argument("--rate", type=float, default=2.0, help="workflows started per second")
    p.add_argument("--settle", type=float, default=300.0, help="seconds allowed to finish after the chaos")
    p.add_argument("--seed", type=int, default=None, help="random seed of the chaos")
    p.add_argument("--workdir", default="/tmp/tether-torture", help="side-effect files (emptied first)")
    p.add_argument("--role", choices=["worker", "sender"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.role == "worker":
        worker(args.db, Path(args.workdir))
    elif args.role == "sender":
        sender(args.db, Path(args.workdir))
    else:
        print(json.dumps(orchestrate(args)), flush=True)


if __name__ == "__main__":
    main()
