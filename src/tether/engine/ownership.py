"""Who runs a workflow: the rules of process ownership, as pure functions (tested without a database).

Every launched process registers a row in ``processes`` and renews its heartbeat every ``interval``; a PENDING
workflow names the one process that runs it (``owner_process``). A process is *dead* when

- it stopped cleanly (``stopped_at`` is set), or
- its heartbeat is older than its own ``timeout_ms`` (the lapse it registered with), or
- it ran on this machine (same boot and PID namespace) and its PID is gone or now belongs to another program.

A live process adopts a dead one atomically and once (the store deletes the dead row only if it still holds the
heartbeat it was judged on, and moves its workflows in the same transaction). Among the live processes that may
adopt it, the one ranked first by rendezvous hashing (a process of the dead one's executor ID first) adopts at
once; the next waits one interval more, and so on, so that one dead adopter does not strand anything.

A process fences itself: it starts no new operation of a workflow once ``timeout - margin`` has passed since
the send of its last successful renewal, because from ``timeout`` on others may adopt its work.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tether.storage.base import ProcessRow

PidProbe = Callable[[int, str | None], bool]
"""``probe(pid, pid_started)``: whether that process (not a later one reusing its PID) still runs here."""


@dataclass(frozen=True)
class Lease:
    """How often a process renews its heartbeat, and after how long without one it may be adopted."""

    interval_ms: int
    timeout_ms: int

    @property
    def margin_ms(self) -> int:
        """How long before its timeout a process stops starting operations (covers clock skew and the time
        a renewal takes to commit)."""
        return max(self.interval_ms, self.timeout_ms // 4)

    def valid_for_ms(self) -> int:
        """How long after sending a successful renewal this process may keep starting operations."""
        return max(0, self.timeout_ms - self.margin_ms)

    def takeover_bound_ms(self, same_machine: bool) -> int:
        """The longest a dead process's workflows wait before a live adopter (ranked first) takes them: the
        lapse (or, on one machine, nothing: its PID is probed), plus one interval for the adopter's next look."""
        return (0 if same_machine else self.timeout_ms) + self.interval_ms


def lapsed(proc: ProcessRow, now_ms: int) -> bool:
    """Whether a process stopped, or went without a heartbeat for longer than its registered timeout."""
    return proc.stopped_at is not None or now_ms - proc.heartbeat_at > proc.timeout_ms


def is_dead(proc: ProcessRow, now_ms: int, machine: str | None, probe: PidProbe) -> bool:
    """Whether ``proc`` can be adopted: lapsed, or known gone from this very machine."""
    if lapsed(proc, now_ms):
        return True
    if machine is not None and proc.machine == machine:
        return not probe(proc.pid, proc.pid_started)
    return False


def may_adopt(me: ProcessRow, dead: ProcessRow) -> bool:
    """Whether ``me`` may run ``dead``'s workflows: same application version (it has the code), and the same
    application, or the same executor ID (a restart of that executor)."""
    if dead.process_id == me.process_id or dead.application_version != me.application_version:
        return False
    return dead.app_name == me.app_name or dead.executor_id == me.executor_id


def adoption_rank(dead: ProcessRow, candidates: Iterable[ProcessRow]) -> list[str]:
    """The order in which live ``candidates`` should adopt ``dead``: processes of the dead one's executor ID
    first (a restart takes its own work back), then by rendezvous hash, which spreads adoptions evenly and needs
    no agreement beyond the list of processes."""
    def key(p: ProcessRow) -> tuple[bool, str]:
        digest = hashlib.sha256(f"{dead.process_id}/{p.process_id}".encode()).hexdigest()
        return (p.executor_id != dead.executor_id, digest)

    return [p.process_id for p in sorted(candidates, key=key)]


def adopt_now(rank: int, first_seen_dead_ms: int, now_ms: int, interval_ms: int) -> bool:
    """Whether the adopter at ``rank`` (0 = first) acts now, given when it first saw the process dead."""
    return now_ms >= first_seen_dead_ms + rank * interval_ms


def plan_adoptions(me: ProcessRow, processes: list[ProcessRow], now_ms: int, machine: str | None,
                   probe: PidProbe, first_seen: dict[str, int], interval_ms: int,
                   only_executor: str | None = None) -> list[ProcessRow]:
    """The dead processes ``me`` should adopt now. ``first_seen`` (process ID -> when this process first saw it
    dead) is updated in place; with ``only_executor`` only that executor's processes are considered, at once
    (a launch taking back its own executor's work)."""
    dead: list[ProcessRow] = []
    live: list[ProcessRow] = []
    for p in processes:
        if p.process_id == me.process_id:
            live.append(p)
        elif is_dead(p, now_ms, machine, probe):
            dead.append(p)
        else:
            live.append(p)
    if not any(p.process_id == me.process_id for p in live):
        live.append(me)
    for gone in [pid for pid in first_seen if pid not in {p.process_id for p in dead}]:
        del first_seen[gone]
    chosen: list[ProcessRow] = []
    for d in dead:
        first_seen.setdefault(d.process_id, now_ms)
        if not may_adopt(me, d):
            continue
        if only_executor is not None:
            if d.executor_id == only_executor:
                chosen.append(d)
            continue
        rank = adoption_rank(d, [p for p in live if may_adopt(p, d)]).index(me.process_id)
        if adopt_now(rank, first_seen[d.process_id], now_ms, interval_ms):
            chosen.append(d)
    return chosen


def live_duplicates(me: ProcessRow, processes: list[ProcessRow], now_ms: int, machine: str | None,
                    probe: PidProbe) -> list[ProcessRow]:
    """Other live processes registered with ``me``'s executor ID."""
    return [p for p in processes if p.process_id != me.process_id and p.executor_id == me.executor_id
            and not is_dead(p, now_ms, machine, probe)]


# -- this machine -------------------------------------------------------------------------------------------

def machine_identity() -> str | None:
    """Boot ID and PID namespace: two processes with equal values can probe each other's PIDs. None where
    /proc does not tell (then only heartbeats decide)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None


def pid_started(pid: int) -> str | None:
    """The start time (clock ticks after boot) of a running, non-zombie PID; None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def pid_alive(pid: int, started: str | None) -> bool:
    """The PID probe for :func:`is_dead` on this machine."""
    now = pid_started(pid)
    return now is not None and (started is None or now == started)
