"""Workflow IDs Tether makes up are UUIDv7 and sort in the order they were made."""

from __future__ import annotations

import threading
import uuid

from tether.engine.ids import new_workflow_id


def test_ids_are_version_7_and_strictly_increasing() -> None:
    ids = [new_workflow_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for text in ids[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_ids_made_on_several_threads_are_distinct() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def make(i: int) -> None:
        out[i].extend(new_workflow_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(ids == sorted(ids) for ids in out)
    assert len({x for ids in out for x in ids}) == 20_000
