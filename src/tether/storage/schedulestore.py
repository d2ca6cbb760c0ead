"""Schedule and debounce statements both SQL backends share: the ``workflow_schedules`` table (every change
notifies every process's schedule timer) and the one-transaction push-back of a debounced workflow."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tether.errors import ScheduleExistsError
from tether.storage.base import SCHEDULE_COLUMNS, DebounceResult, ScheduleRow

if TYPE_CHECKING:
    from tether.storage.session import Session


class ScheduleStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    placeholder: str = "?"

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def put_schedules(self, rows: Sequence[ScheduleRow], *, replace: bool) -> None:
        statement = "replace_schedule" if replace else "insert_schedule"
        with self._tx() as s:
            for row in rows:
                params = {c: getattr(row, c) for c in SCHEDULE_COLUMNS}
                if s.run(statement, params).rowcount != 1:  # taken; replaced unless another application owns it
                    owner = s.run("schedule_owner", {"schedule_name": row.schedule_name}).fetchone()
                    raise ScheduleExistsError(row.schedule_name, owner[0] if replace and owner else None)
            s.run("notify_schedules")

    def list_schedules(self, *, status: Sequence[str] | None = None, workflow_name: Sequence[str] | None = None,
                       name_prefix: Sequence[str] | None = None, names: Sequence[str] | None = None,
                       owners: Sequence[str] | None = None) -> list[ScheduleRow]:
        """Schedules by name, filtered by each given criterion; ``owners``: those of these applications and
        the unclaimed ones."""
        ph = self.placeholder
        where: list[str] = []
        params: list[Any] = []
        if owners is not None:
            where.append(f"(application_name IS NULL OR application_name IN ({', '.join([ph] * len(owners))}))"
                         if owners else "application_name IS NULL")
            params.extend(owners)
        for column, wanted in (("status", status), ("workflow_name", workflow_name), ("schedule_name", names)):
            if wanted is not None:
                where.append(f"{column} IN ({', '.join([ph] * len(wanted))})" if wanted else "1 = 0")
                params.extend(wanted)
        if name_prefix is not None:
            conds = [f"substr(schedule_name, 1, length(CAST({ph} AS TEXT))) = CAST({ph} AS TEXT)" for _ in name_prefix]
            for p in name_prefix:
                params.extend([p, p])
            where.append("(" + " OR ".join(conds or ["1 = 0"]) + ")")
        sql = f"SELECT {', '.join(SCHEDULE_COLUMNS)} FROM workflow_schedules"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY schedule_name"
        with self._auto() as s:
            rows = s.run_sql(sql, params).fetchall()
        out = []
        for r in rows:
            values = dict(zip(SCHEDULE_COLUMNS, r, strict=True))
            if values["context"] is not None:
                values["context"] = bytes(values["context"])
            out.append(ScheduleRow(**values))
        return out

    def set_schedule_status(self, name: str, status: str, now_ms: int) -> bool:
        with self._tx() as s:
            changed = s.run("set_schedule_status", {"schedule_name": name, "status": status,
                                                    "now": now_ms}).rowcount == 1
            if changed:
                s.run("notify_schedules")
            return changed

    def delete_schedule(self, name: str) -> bool:
        with self._tx() as s:
            deleted = s.run("delete_schedule", {"schedule_name": name}).rowcount == 1
            if deleted:
                s.run("notify_schedules")
            return deleted

    def record_tick(self, name: str, fired_at: str, fired_ms: int) -> None:
        with self._auto() as s:
            s.run("record_tick", {"schedule_name": name, "fired_at": fired_at, "fired_ms": fired_ms})

    def debounce(self, workflow_name: str, queue_name: str, deduplication_id: str, delay_until_ms: int,
                 inputs: bytes, now_ms: int) -> DebounceResult:
        key = {"queue_name": queue_name, "deduplication_id": deduplication_id}
        with self._tx() as s:
            pushed = s.run("debounce_push", {**key, "name": workflow_name, "inputs": inputs, "now": now_ms,
                                             "delay_until": delay_until_ms}).fetchone()
            if pushed is not None:
                return DebounceResult(bounced=pushed[0])
            holder = s.run("dedup_holder", key).fetchone()
        if holder is None:
            return DebounceResult()
        return DebounceResult(holder=holder[0], holder_is_debounced=bool(holder[1]), holder_name=holder[2])
