"""The import writes in one transaction: a failure part-way leaves nothing behind (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tether.config import parse_database_url
from tether.errors import DBOSImportError, DBOSSourceError, StorageError
from tether.storage import open_store
from tether.storage.base import OperationRow, WorkflowRow
from tether.storage.importstore import ImportBatch


def test_a_failure_part_way_imports_nothing(db_url: str) -> None:
    store = open_store(parse_database_url(db_url))
    try:
        batch = ImportBatch(
            workflows=[WorkflowRow(workflow_uuid=f"atomic-{i}", status="SUCCESS", name="wf", created_at=1,
                                   updated_at=1) for i in range(3)],
            operations=[("atomic-0", OperationRow(function_id=1, function_name="step", completed_at=1))],
            # the same stream offset twice: the primary key fails on the last row of the batch
            streams=[("atomic-1", "s", 0, b"J1", 1, None), ("atomic-1", "s", 0, b"J2", 1, None)])
        with pytest.raises(StorageError):
            store.import_rows([batch])
        assert [store.get_workflow(f"atomic-{i}") for i in range(3)] == [None, None, None]
        assert store.load_operations("atomic-0") == []
        batch.streams.pop()
        counts = store.import_rows([batch])
        assert (len(counts.imported), counts.operations, counts.stream_values) == (3, 1, 1)
        again = store.import_rows([batch])
        assert (again.imported, sorted(again.already_present), again.operations) == ([], [
            "atomic-0", "atomic-1", "atomic-2"], 0)
    finally:
        store.close()


def test_an_active_deduplication_id_already_in_tether_imports_nothing(db_url: str) -> None:
    store = open_store(parse_database_url(db_url))
    try:
        store.insert_workflow(WorkflowRow(workflow_uuid="mine", status="ENQUEUED", name="wf", created_at=1,
                                          updated_at=1, queue_name="q", deduplication_id="d"))
        batch = ImportBatch(workflows=[
            WorkflowRow(workflow_uuid="theirs-ok", status="SUCCESS", name="wf", created_at=1, updated_at=1),
            WorkflowRow(workflow_uuid="theirs", status="ENQUEUED", name="wf", created_at=1, updated_at=1,
                        queue_name="q", deduplication_id="d")])
        with pytest.raises(DBOSImportError, match="deduplication ID 'd'"):
            store.import_rows([batch])
        assert store.get_workflow("theirs-ok") is None and store.get_workflow("theirs") is None
    finally:
        store.close()


def test_an_error_between_batches_imports_nothing(db_url: str) -> None:
    store = open_store(parse_database_url(db_url))

    def batches() -> Iterator[ImportBatch]:
        yield ImportBatch(workflows=[WorkflowRow(workflow_uuid="first", status="SUCCESS", name="wf", created_at=1,
                                                 updated_at=1)])
        raise DBOSSourceError("a malformed value in the second chunk")

    try:
        with pytest.raises(DBOSSourceError):
            store.import_rows(batches())
        assert store.get_workflow("first") is None
    finally:
        store.close()
