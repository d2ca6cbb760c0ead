"""A launched process's membership: it registers, heartbeats, adopts dead processes' workflows, and stops
its own workflows when it learns (or can no longer rule out) that it has been adopted. The rules are in
``engine/ownership.py``; this module applies them, on a daemon thread of its own so that a busy event loop
cannot starve the heartbeat."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from tether.engine import ownership
from tether.engine.recovery import recover_workflows
from tether.engine.runtime import Runtime, logger
from tether.errors import ConfigError, TetherError
from tether.storage.base import ProcessRow


class Membership:
    """This process's row in ``processes`` and the thread that keeps it alive."""

    def __init__(self, rt: Runtime, app_name: str, interval_s: float, timeout_s: float) -> None:
        self.rt = rt
        self.app_name = app_name
        self.lease = ownership.Lease(int(interval_s * 1000), int(timeout_s * 1000))
        self.machine = ownership.machine_identity()
        self.me: ProcessRow | None = None
        self._first_seen_dead: dict[str, int] = {}
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fenced = False

    # -- registration ------------------------------------------------------------------------------------
    def register(self) -> ProcessRow:
        """Insert a fresh row for this process and make the store stamp it on the workflows it runs."""
        rt = self.rt
        now = rt.clock.now_ms()
        sent = time.monotonic()
        pid = os.getpid()
        me = ProcessRow(process_id=uuid.uuid4().hex, executor_id=rt.settings.executor_id, app_name=self.app_name,
                        application_version=rt.application_version, hostname=socket.gethostname(), pid=pid,
                        machine=self.machine, pid_started=ownership.pid_started(pid), started_at=now,
                        heartbeat_at=now, timeout_ms=self.lease.timeout_ms)
        rt.store.register_process(me)
        self.me = me
        rt.store.owner_process = me.process_id
        rt.process_id = me.process_id
        rt.lease_valid_until = sent + self.lease.valid_for_ms() / 1000
        return me

    def launch(self) -> None:
        """Register, take back this executor's work from its dead processes (a restart), and start heartbeating.

        A live process already registered with this executor ID: with the shared default ID (``"local"``, as
        DBOS replicas often run) a warning names it, and this process recovers none of its workflows; with an
        ID given in the config or ``DBOS__VMID``, launch refuses. A holder on another machine is first given its
        heartbeat timeout to lapse (a restart elsewhere while the old row is still fresh).

        Raises:
            ConfigError: an explicitly chosen executor ID is held by another live process (this process's row
                is removed again; nothing else was written).
        """
        me = self.register()
        duplicates = self._live_duplicates(me)
        if duplicates and self.rt.settings.executor_id_explicit:
            duplicates = self._wait_for_lapse(me, duplicates)
            if duplicates:
                other = duplicates[0]
                self.rt.store.stop_process(me.process_id, self.rt.clock.now_ms())
                raise ConfigError(
                    f"executor_id {me.executor_id!r} is already used by a live process (pid {other.pid} on "
                    f"{other.hostname}) on this database: two processes with one executor ID would both claim "
                    f"its workflows at recovery. Give each process its own executor_id (config key or "
                    f"DBOS__VMID), or stop the other one first.")
        for other in duplicates:
            logger.warning(
                "Another live process (pid %s on %s) uses executor_id %r on this database. Each workflow still "
                "runs in one process at a time, but recovery by executor ID cannot tell the two apart: give "
                "each process its own executor_id.", other.pid, other.hostname, me.executor_id)
        self._adopt(self.rt.store.list_processes(), only_executor=me.executor_id)
        self._thread = threading.Thread(target=self._run, name="tether-heartbeat", daemon=True)
        self._thread.start()

    def _live_duplicates(self, me: ProcessRow) -> list[ProcessRow]:
        return ownership.live_duplicates(me, self.rt.store.list_processes(), self.rt.clock.now_ms(), self.machine,
                                         ownership.pid_alive)

    def _wait_for_lapse(self, me: ProcessRow, duplicates: list[ProcessRow]) -> list[ProcessRow]:
        """Those of ``duplicates`` still live once every holder on another machine has had its heartbeat
        timeout (one on this machine is known live by its PID, and is not waited for)."""
        elsewhere = [p for p in duplicates if self.machine is None or p.machine != self.machine]
        if len(elsewhere) < len(duplicates) or not elsewhere:
            return duplicates
        deadline = time.monotonic() + (max(p.timeout_ms for p in elsewhere) + self.lease.interval_ms) / 1000
        while duplicates and time.monotonic() < deadline:
            time.sleep(self.lease.interval_ms / 1000 / 2)
            duplicates = self._live_duplicates(me)
        return duplicates

    def poke(self) -> None:
        """Look for dead processes now (another process stopped)."""
        self._poke.set()

    def stop(self) -> None:
        """A clean stop: this process's row is deleted, or marked stopped if it still owns PENDING workflows
        (then another live process adopts them at once)."""
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.me is not None:
            try:
                self.rt.store.stop_process(self.me.process_id, self.rt.clock.now_ms())
            except TetherError:
                logger.warning("Could not record this process's stop; it is adopted once its heartbeat lapses")

    # -- the loop ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        interval = self.lease.interval_ms / 1000
        while not self._stop.is_set():
            self._poke.wait(interval)
            self._poke.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except TetherError:
                logger.warning("Heartbeat failed; retrying in %.1f s", interval, exc_info=True)
            except Exception:  # never let the heartbeat thread die
                logger.exception("Heartbeat pass failed")

    def tick(self) -> None:
        """Renew the heartbeat (or notice this process was adopted), then adopt whatever is dead."""
        rt = self.rt
        assert self.me is not None
        sent = time.monotonic()
        if rt.store.heartbeat(self.me.process_id, rt.clock.now_ms()):
            rt.lease_valid_until = sent + self.lease.valid_for_ms() / 1000
            if self._fenced:
                self._fenced = False
                self._resume_owned()
        else:
            self._adopted_meanwhile()
        self._adopt(rt.store.list_processes())

    def _adopt(self, processes: list[ProcessRow], only_executor: str | None = None) -> None:
        rt = self.rt
        assert self.me is not None
        now = rt.clock.now_ms()
        plan = ownership.plan_adoptions(self.me, processes, now, self.machine, ownership.pid_alive,
                                        self._first_seen_dead, self.lease.interval_ms, only_executor)
        for dead in plan:
            got = rt.store.adopt_process(dead, rt.settings.executor_id, now)
            if got is None:
                continue
            if got.adopted or got.requeued:
                logger.info("Adopted process %s (pid %s on %s, executor %r): %d workflows resumed here, %d back "
                            "on their queues", dead.process_id, dead.pid, dead.hostname, dead.executor_id,
                            len(got.adopted), len(got.requeued))
            for wfid in got.requeued:
                rt.notify("wf", wfid, "ENQUEUED")  # this process's queue runner looks at once
            if got.adopted:
                recover_workflows(rt, got.adopted)

    # -- losing ownership --------------------------------------------------------------------------------
    def fence_expired(self) -> None:
        """Called when an operation found the lease expired: resume owned workflows after the next renewal."""
        self._fenced = True
        self._poke.set()

    def _adopted_meanwhile(self) -> None:
        """Our row is gone: another process adopted us (we stalled past the timeout). Stop every execution
        here at its next operation, and carry on as a new process. Workflows started here after the adoption
        still name the old row, which nobody can adopt any more: they are taken over and run again here."""
        rt = self.rt
        assert self.me is not None
        old = self.me.process_id
        logger.error("This process was adopted by another (its heartbeat lapsed): its workflows run elsewhere now")
        for wfid in list(rt.active):
            rt.preempt(wfid)
        self.register()
        left = rt.store.owned_pending(old)
        if left:
            recover_workflows(rt, left, previous_owner=old)

    def _resume_owned(self) -> None:
        """After a fenced spell ended with a successful renewal: nobody adopted us, so run again the
        workflows this process owns whose executions stopped at the fence."""
        rt = self.rt
        assert self.me is not None
        stopped = [w for w in rt.store.owned_pending(self.me.process_id) if w in rt.preempted or w not in rt.active]
        if stopped:
            recover_workflows(rt, stopped)


def start_membership(rt: Runtime, app_name: str) -> Membership:
    """Register this process and start heartbeating (see :class:`Membership`)."""
    m = Membership(rt, app_name, rt.settings.heartbeat_interval_sec, rt.settings.heartbeat_timeout_sec)
    rt.membership = m
    m.launch()
    return m

