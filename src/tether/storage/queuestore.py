"""Queue statements both SQL backends share: claiming (plain and partitioned queues), deduplication lookups
and the queue registry (settings stored by ``DBOS.register_queue``, read by every process)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tether.errors import QueueConfigurationError
from tether.storage.base import PartitionLoad, QueuePolicy, WorkflowFilter, WorkflowRow
from tether.storage.versionstore import insert_version, latest_version

if TYPE_CHECKING:
    from tether.storage.session import Session

# QueuePolicy field -> queues column, for the settings a registry row stores.
_COLUMNS: dict[str, str] = {
    "concurrency": "concurrency",
    "worker_concurrency": "worker_concurrency",
    "limit": "rate_limit",
    "period_ms": "rate_period_ms",
    "partition_concurrency": "partition_concurrency",
    "partition_worker_concurrency": "partition_worker_concurrency",
    "partition_limit": "partition_rate_limit",
    "partition_period_ms": "partition_rate_period_ms",
    "polling_interval_ms": "polling_interval_ms",
}


def _policy(r: Sequence[Any]) -> QueuePolicy:
    return QueuePolicy(
        name=r[0], concurrency=r[1], worker_concurrency=r[2], limit=r[3], period_ms=r[4],
        partition_concurrency=r[5], partition_worker_concurrency=r[6], partition_limit=r[7],
        partition_period_ms=r[8], polling_interval_ms=int(r[9]), application_name=r[10],
        application_version=r[11], priority_enabled=True,  # every registered queue orders by priority
    )


def _params(policy: QueuePolicy, now_ms: int) -> dict[str, Any]:
    p: dict[str, Any] = {col: getattr(policy, field) for field, col in _COLUMNS.items()}
    p.update(name=policy.name, application_name=policy.application_name,
             application_version=policy.application_version, now=now_ms)
    return p


class QueueStore(abc.ABC):
    """Mixin of ``SqlStore``."""

    placeholder: str
    owner_process: str | None = None

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def list_workflows(self, flt: WorkflowFilter) -> list[WorkflowRow]: ...

    # -- claiming ----------------------------------------------------------------------------------------
    def claim_queued(self, policy: QueuePolicy, executor_id: str, app_version: str, now_ms: int,
                     after_partition: str | None = None, *, now_us: int | None = None
                     ) -> tuple[list[WorkflowRow], str | None]:
        q = {"queue_name": policy.name, "executor_id": executor_id}
        last = after_partition
        with self._tx() as s:
            if policy.global_limits:
                s.run("queue_lock", q)  # one claimer per queue at a time, so the counts below stay true
            running, here = s.run("queue_running", q).fetchone()
            started = 0
            if policy.limit is not None and policy.period_ms is not None:
                started = s.run("queue_started_since", {"queue_name": policy.name,
                                                        "since": now_ms - policy.period_ms}).fetchone()[0]
            n = policy.admit(int(running), int(here), int(started))
            if n <= 0:
                return [], last
            if policy.partitioned:
                ids, last = self._partition_candidates(s, policy, executor_id, app_version, now_ms, n, last)
            else:
                which = "queue_candidates_priority" if policy.priority_enabled else "queue_candidates_fifo"
                ids = [r[0] for r in s.run(which, {"queue_name": policy.name, "app_version": app_version,
                                                   "limit": n}).fetchall()]
            claimed = [wfid for wfid in ids
                       if s.run("queue_claim", {"workflow_uuid": wfid, "executor_id": executor_id,
                                                "owner_process": self.owner_process,
                                                "now": now_ms, "now_us": now_us,
                                                "app_version": app_version}).rowcount == 1]
        if not claimed:
            return [], last
        rows = self.list_workflows(WorkflowFilter(workflow_ids=claimed))
        # Another process may have cancelled one between the claim and this read: skip those.
        return [r for r in rows if r.status == "PENDING" and r.executor_id == executor_id], last

    @staticmethod
    def _partition_candidates(s: Session, policy: QueuePolicy, executor_id: str, app_version: str, now_ms: int,
                              budget: int, after: str | None) -> tuple[list[str], str | None]:
        since = now_ms - policy.partition_period_ms if policy.partition_period_ms is not None else now_ms + 1
        loads = [PartitionLoad(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]))
                 for r in s.run("queue_partition_loads", {"queue_name": policy.name, "executor_id": executor_id,
                                                          "since": since}).fetchall()]
        ids: list[str] = []
        for key, n in policy.admit_partitions(budget, [p for p in loads if p.enqueued > 0], after):
            params = {"queue_name": policy.name, "app_version": app_version, "limit": n}
            if key is None:
                rows = s.run("queue_candidates_no_partition", params).fetchall()
            else:
                rows = s.run("queue_candidates_partition", {**params, "partition": key}).fetchall()
            ids.extend(r[0] for r in rows)
            after = key
        return ids, after

    def queues_with_work(self, queue_names: Sequence[str]) -> set[str]:
        names = list(queue_names)
        if not names:
            return set()
        # One round trip; each EXISTS is a single seek on the queue index.
        one = (f"SELECT CAST({self.placeholder} AS TEXT) WHERE EXISTS (SELECT 1 FROM workflow_status "
               f"WHERE queue_name = {self.placeholder} AND status = 'ENQUEUED')")
        params = [p for name in names for p in (name, name)]
        with self._auto() as s:
            return {r[0] for r in s.run_sql(" UNION ALL ".join([one] * len(names)), params).fetchall()}

    def deduplicated_workflow(self, queue_name: str, deduplication_id: str) -> str | None:
        with self._auto() as s:
            row = s.run("deduplicated_workflow", {"queue_name": queue_name,
                                                  "deduplication_id": deduplication_id}).fetchone()
        return str(row[0]) if row is not None else None

    # -- the registry ------------------------------------------------------------------------------------
    def register_queue(self, policy: QueuePolicy, now_ms: int, on_conflict: str) -> tuple[bool, QueuePolicy]:
        params = _params(policy, now_ms)
        with self._tx() as s:
            if policy.application_name is not None and policy.application_version:
                insert_version(s, policy.application_version, policy.application_name, now_ms)
            existing = s.run("queue_get", {"name": policy.name}).fetchone()
            if existing is None:
                s.run("queue_insert", params)
                return True, policy
            stored = _policy(existing)
            if (stored.application_name is not None and policy.application_name is not None
                    and stored.application_name != policy.application_name):
                raise QueueConfigurationError(
                    f"Queue {policy.name!r} is already registered by application {stored.application_name!r}")
            update = on_conflict == "always_update"
            if on_conflict == "update_if_latest_version":
                latest = latest_version(s, policy.application_name)
                update = latest is None or latest.version_name == policy.application_version
            if not update:
                return False, stored
            s.run("queue_replace", params)
            return False, replace(policy, application_name=stored.application_name or policy.application_name)

    def get_queue(self, name: str) -> QueuePolicy | None:
        with self._auto() as s:
            row = s.run("queue_get", {"name": name}).fetchone()
        return _policy(row) if row is not None else None

    def list_queues(self) -> list[QueuePolicy]:
        with self._auto() as s:
            return [_policy(r) for r in s.run("queue_list").fetchall()]

    def queue_loads(self) -> dict[str, dict[str, int]]:
        with self._auto() as s:
            rows = s.run("queue_loads").fetchall()
        out: dict[str, dict[str, int]] = {}
        for queue_name, status, n in rows:
            out.setdefault(str(queue_name), {})[str(status)] = int(n)
        return out

    def update_queue(self, name: str, fields: dict[str, Any], now_ms: int) -> bool:
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"Not a queue setting: {sorted(unknown)}")
        if not fields:
            return self.get_queue(name) is not None
        ph = self.placeholder
        sets = [f"{_COLUMNS[f]} = {ph}" for f in fields] + [f"updated_at = {ph}"]
        sql = f"UPDATE queues SET {', '.join(sets)} WHERE name = {ph}"
        with self._auto() as s:
            return s.run_sql(sql, [*fields.values(), now_ms, name]).rowcount == 1

    def delete_queue(self, name: str) -> bool:
        with self._auto() as s:
            return s.run("queue_delete", {"name": name}).rowcount == 1
