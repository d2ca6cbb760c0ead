"""What the dashboard shows about queues: each queue's settings (stored in the database, or declared in this
process's code) with how many of its workflows wait, run or are delayed right now."""

from __future__ import annotations

from dataclasses import dataclass, field

from tether.engine import queues
from tether.engine.runtime import Runtime
from tether.storage.base import QueuePolicy


@dataclass(frozen=True)
class QueueOverview:
    """One queue: ``policy`` is None for a queue known only from the workflows it holds (declared in code in
    another process); ``source`` says where the settings come from (``database``, ``code`` or None);
    ``counts`` maps ENQUEUED, PENDING and DELAYED to how many of its workflows have that status."""

    name: str
    policy: QueuePolicy | None
    source: str | None
    counts: dict[str, int] = field(default_factory=dict)


async def queue_overview(rt: Runtime) -> list[QueueOverview]:
    """Every queue registered in the database, declared in this process, or holding unfinished workflows,
    by name. Two reads: the registry and one grouped count of unfinished queued workflows."""
    stored = {p.name: p for p in await rt.io(rt.store.list_queues)}
    loads = await rt.io(rt.store.queue_loads)
    declared = queues.declared_queues()
    out = []
    for name in sorted(set(stored) | set(declared) | set(loads)):
        if name in stored:
            policy, source = stored[name], "database"
        elif name in declared:
            policy, source = declared[name], "code"
        else:
            policy, source = None, None
        out.append(QueueOverview(name, policy, source, loads.get(name, {})))
    return out
