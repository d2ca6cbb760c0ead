"""Workflow IDs Tether makes up are UUIDv7 and sort in the order they were made."""

from __future__ import annotations

import os
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


def _random_tails(count: int) -> set[int]:
    return {uuid.UUID(new_workflow_id()).int & (2**62 - 1) for _ in range(count)}


def test_a_forked_child_does_not_repeat_the_parents_random_bits() -> None:
    """Random bits are drawn from the OS in blocks; a forked child must not reuse the block it inherited."""
    new_workflow_id()  # the parent holds a block, mostly unused
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its tails and leave at once
        os.close(read_end)
        with os.fdopen(write_end, "w") as out:
            out.write(" ".join(map(str, _random_tails(100))))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as got:
        child = {int(x) for x in got.read().split()}
    os.waitpid(pid, 0)
    parent = _random_tails(100)
    assert len(child) == 100 and len(parent) == 100
    assert not child & parent
