"""The ownership rules (engine/ownership.py) as pure functions: lapse, death, who may adopt and when."""

from __future__ import annotations

import os
from dataclasses import replace

from tether.engine import ownership
from tether.storage.base import ProcessRow

HERE = "boot-1/pid:[1]"


def proc(pid_: str, *, executor: str = "local", app: str = "app", version: str = "v1", heartbeat: int = 1000,
         timeout: int = 10_000, machine: str | None = HERE, pid: int = 100, stopped: int | None = None
         ) -> ProcessRow:
    return ProcessRow(process_id=pid_, executor_id=executor, app_name=app, application_version=version,
                      hostname="h", pid=pid, machine=machine, pid_started="7", started_at=0,
                      heartbeat_at=heartbeat, timeout_ms=timeout, stopped_at=stopped)


def alive(pid: int, started: str | None) -> bool:
    return True


def gone(pid: int, started: str | None) -> bool:
    return False


def test_a_process_lapses_strictly_after_its_own_timeout() -> None:
    p = proc("a", heartbeat=1000, timeout=10_000)
    assert not ownership.lapsed(p, 11_000)
    assert ownership.lapsed(p, 11_001)
    assert ownership.lapsed(replace(p, stopped_at=1500), 1500)  # a clean stop: at once


def test_death_on_this_machine_is_read_from_the_pid_elsewhere_only_from_the_heartbeat() -> None:
    p = proc("a", heartbeat=1000)
    assert not ownership.is_dead(p, 2000, HERE, alive)
    assert ownership.is_dead(p, 2000, HERE, gone)
    assert not ownership.is_dead(p, 2000, "other-boot/pid:[1]", gone)  # another machine: its PIDs are not ours
    assert not ownership.is_dead(replace(p, machine=None), 2000, None, gone)
    assert ownership.is_dead(p, 20_000, "other-boot/pid:[1]", alive)


def test_who_may_adopt() -> None:
    me = proc("me")
    assert ownership.may_adopt(me, proc("d"))
    assert not ownership.may_adopt(me, me)
    assert not ownership.may_adopt(me, proc("d", version="v2"))  # cannot run another version's code
    assert not ownership.may_adopt(me, proc("d", app="other", executor="x"))
    assert ownership.may_adopt(me, proc("d", app="other", executor="local"))  # a restart of its executor


def test_rank_puts_the_dead_executor_first_and_is_the_same_from_every_point_of_view() -> None:
    dead = proc("d", executor="e1")
    cands = [proc(f"p{i}", executor="e2") for i in range(8)] + [proc("same", executor="e1")]
    rank = ownership.adoption_rank(dead, cands)
    assert rank[0] == "same"
    assert rank == ownership.adoption_rank(dead, list(reversed(cands)))
    firsts = {ownership.adoption_rank(proc(f"d{i}"), cands[:8])[0] for i in range(64)}
    assert len(firsts) > 3  # adoptions spread over the live processes


def test_adopt_now_waits_one_interval_per_rank() -> None:
    assert ownership.adopt_now(0, 5000, 5000, 1000)
    assert not ownership.adopt_now(1, 5000, 5999, 1000)
    assert ownership.adopt_now(1, 5000, 6000, 1000)
    assert not ownership.adopt_now(3, 5000, 7999, 1000)


def test_plan_adoptions_exactly_one_of_the_live_processes_acts_first() -> None:
    dead = proc("dead", heartbeat=0)
    live = [proc(f"live{i}", heartbeat=30_000) for i in range(4)]
    everyone = [dead, *live]
    acting = []
    for me in live:
        plan = ownership.plan_adoptions(me, everyone, 30_000, HERE, alive, {}, 1000)
        acting += [me.process_id for d in plan if d.process_id == "dead"]
    assert len(acting) == 1
    # The others act one interval per rank later (if the first did not: it may be dead too).
    seen: dict[str, int] = {}
    later = [me.process_id for me in live
             if ownership.plan_adoptions(me, everyone, 30_000, HERE, alive, {"dead": 30_000 - 3000}, 1000)]
    assert sorted(later) == sorted(p.process_id for p in live)
    assert ownership.plan_adoptions(live[0], [live[0]], 30_000, HERE, alive, seen, 1000) == []


def test_plan_adoptions_skips_live_and_foreign_processes_and_forgets_the_adopted() -> None:
    me = proc("me", heartbeat=10_000)
    others = [proc("fresh", heartbeat=9_000), proc("v2", heartbeat=0, version="v2"),
              proc("foreign", heartbeat=0, app="b", executor="x")]
    seen: dict[str, int] = {"long-gone": 1}
    assert ownership.plan_adoptions(me, [me, *others], 20_001 - 10_000, HERE, alive, seen, 1000) == []
    assert "long-gone" not in seen and set(seen) == {"v2", "foreign"}


def test_a_launch_takes_back_its_own_executors_dead_processes_at_once() -> None:
    me = proc("me", executor="e1", heartbeat=50_000)
    mine = proc("old", executor="e1", heartbeat=49_000, pid=4242)
    other = proc("peer", executor="e2", heartbeat=49_000)
    # The old process of this executor died on this machine a moment ago (PID gone): no lapse to wait for.
    plan = ownership.plan_adoptions(me, [me, mine, other], 50_000, HERE, lambda pid, s: pid != 4242, {}, 1000,
                                    only_executor="e1")
    assert [p.process_id for p in plan] == ["old"]


def test_a_live_process_sharing_the_executor_id_is_reported() -> None:
    me = proc("me", executor="local")
    twin = proc("twin", executor="local", machine="elsewhere")
    assert ownership.live_duplicates(me, [me, twin, proc("x", executor="other")], 2000, HERE, gone) == [twin]
    assert ownership.live_duplicates(me, [me, twin], 20_000, HERE, alive) == []  # lapsed: not live


def test_fence_and_takeover_bounds() -> None:
    lease = ownership.Lease(interval_ms=2000, timeout_ms=10_000)
    assert lease.margin_ms == 2500 and lease.valid_for_ms() == 7500
    assert lease.takeover_bound_ms(same_machine=False) == 12_000
    assert lease.takeover_bound_ms(same_machine=True) == 2000
    assert ownership.Lease(100, 1000).valid_for_ms() == 750


def test_the_pid_probe_tells_this_process_from_a_gone_one() -> None:
    started = ownership.pid_started(os.getpid())
    assert started is not None
    assert ownership.pid_alive(os.getpid(), started)
    assert not ownership.pid_alive(os.getpid(), str(int(started) + 1))  # a PID reused by a later process
    assert not ownership.pid_alive(2**22 + 12345, None)  # beyond pid_max: no such process
    assert ownership.machine_identity() is not None
