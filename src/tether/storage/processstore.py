"""Process statements both SQL backends share: registration, heartbeats, clean stops and adoption (the rules
that decide who is dead and who adopts are in ``engine/ownership.py``)."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from tether.storage.base import PROCESS_COLUMNS, Adoption, ProcessRow

if TYPE_CHECKING:
    from tether.storage.session import Session


class ProcessStore(abc.ABC):
    """Mixed into ``SqlStore``; ``owner_process`` is the process the store acts for (see ``Store``)."""

    owner_process: str | None = None

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    # The heartbeat must not queue behind the workload for a connection (a late renewal fences this process):
    # a backend whose pool can run dry gives these statements a connection of their own.
    def _control_tx(self) -> AbstractContextManager[Session]:
        return self._tx()

    def _control_auto(self) -> AbstractContextManager[Session]:
        return self._auto()

    def register_process(self, row: ProcessRow) -> None:
        with self._control_auto() as s:
            s.run("register_process", {c: getattr(row, c) for c in PROCESS_COLUMNS})

    def list_processes(self) -> list[ProcessRow]:
        with self._control_auto() as s:
            rows = s.run("list_processes").fetchall()
        return [ProcessRow(**dict(zip(PROCESS_COLUMNS, r, strict=True))) for r in rows]

    def heartbeat(self, process_id: str, now_ms: int) -> bool:
        with self._control_auto() as s:
            return s.run("heartbeat", {"process_id": process_id, "now": now_ms}).rowcount == 1

    def stop_process(self, process_id: str, now_ms: int) -> None:
        with self._control_tx() as s:
            if s.run("delete_idle_process", {"process_id": process_id}).rowcount == 0:
                s.run("mark_process_stopped", {"process_id": process_id, "now": now_ms})

    def adopt_process(self, dead: ProcessRow, executor_id: str, now_ms: int) -> Adoption | None:
        p = {"process_id": dead.process_id, "heartbeat_at": dead.heartbeat_at, "now": now_ms,
             "owner_process": self.owner_process, "executor_id": executor_id}
        with self._control_tx() as s:
            if s.run("adopt_delete_process", p).rowcount != 1:
                return None  # adopted by another process first, or alive after all
            requeued = [r[0] for r in s.run("adopt_requeue", p).fetchall()]
            adopted = [r[0] for r in s.run("adopt_take", p).fetchall()]
        return Adoption(adopted=adopted, requeued=requeued)

    def owned_pending(self, process_id: str) -> list[str]:
        with self._control_auto() as s:
            return [r[0] for r in s.run("owned_pending", {"process_id": process_id}).fetchall()]

    def run_state(self, workflow_id: str) -> tuple[str, str | None] | None:
        with self._auto() as s:
            row = s.run("run_state", {"workflow_uuid": workflow_id}).fetchone()
        return None if row is None else (str(row[0]), row[1])
