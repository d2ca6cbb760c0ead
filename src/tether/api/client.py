"""``DBOSClient``: talk to workflows from outside the application (another process, a web handler, a script)
without registering or running any workflow."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

from tether.api.client_management import ClientManagement
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.queue_api import ClientQueueAPI
from tether.api.schedules import ClientSchedules
from tether.api.status import to_status
from tether.config import settings_from_config
from tether.engine import events, messages, streams
from tether.engine.bridge import run_sync
from tether.engine.runtime import Runtime
from tether.engine.workflows import get_outcome, wait_for_workflow
from tether.errors import WorkflowNotFoundError
from tether.types import StreamRead, WorkflowSerializationFormat, WorkflowStatus


class DBOSClient(ClientManagement, ClientSchedules, ClientQueueAPI):
    """A connection to a Tether system database.

    Raises:
        ConfigError: the URL is not a supported database URL.
        StorageError: the database cannot be reached.
    """

    def __init__(self, system_database_url: str, *, name: str = "tether-client") -> None:
        settings = settings_from_config({"name": name, "system_database_url": system_database_url,
                                         "db_pool_size": 4, "executor_id": "client"})
        self._rt = Runtime(settings)

    def destroy(self) -> None:
        """Close the client's connections."""
        self._rt.close()

    def __enter__(self) -> DBOSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # -- messages --------------------------------------------------------------------------------------
    def send(self, destination_id: str, message: Any, topic: str | None = None, *,
             idempotency_key: str | None = None,
             serialization_type: WorkflowSerializationFormat | None = None) -> None:
        """Send a message to a workflow; with ``idempotency_key`` it is delivered once however often sent.

        Raises:
            NonExistentWorkflowError: no workflow has ``destination_id``.
            SerializationError: the message cannot be serialized.
        """
        run_sync(self.send_async(destination_id, message, topic, idempotency_key=idempotency_key,
                                 serialization_type=serialization_type))

    async def send_async(self, destination_id: str, message: Any, topic: str | None = None, *,
                         idempotency_key: str | None = None,
                         serialization_type: WorkflowSerializationFormat | None = None) -> None:
        await messages.send(self._rt, destination_id, message, topic, idempotency_key=idempotency_key,
                            serialization_type=serialization_type)

    # -- events ----------------------------------------------------------------------------------------
    def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        """The latest value of an event, waiting up to ``timeout_seconds`` for it (None then)."""
        return run_sync(self.get_event_async(workflow_id, key, timeout_seconds))

    async def get_event_async(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any:
        return await events.get_event(self._rt, workflow_id, key, timeout_seconds)

    def get_all_events(self, workflow_id: str) -> dict[str, Any]:
        return run_sync(self.get_all_events_async(workflow_id))

    async def get_all_events_async(self, workflow_id: str) -> dict[str, Any]:
        return await events.get_all_events(self._rt, workflow_id)

    # -- streams ---------------------------------------------------------------------------------------
    def read_stream(self, workflow_id: str, key: str, *, offset: int = 0) -> Generator[Any, Any, None]:
        """Yield a stream's values in order until it is closed or its workflow ends."""
        yield from streams.follow(self._rt, workflow_id, key, offset)

    async def read_stream_async(self, workflow_id: str, key: str, *, offset: int = 0
                                ) -> AsyncGenerator[Any, None]:
        async for value in streams.follow_async(self._rt, workflow_id, key, offset):
            yield value

    def read_stream_nowait(self, workflow_id: str, key: str, offset: int = 0) -> StreamRead:
        """Values written so far from ``offset``, and whether the stream is closed; never waits."""
        return run_sync(self.read_stream_nowait_async(workflow_id, key, offset))

    async def read_stream_nowait_async(self, workflow_id: str, key: str, offset: int = 0) -> StreamRead:
        return await streams.StreamReader(self._rt, workflow_id, key, offset).poll()

    # -- workflows -------------------------------------------------------------------------------------
    def retrieve_workflow(self, workflow_id: str, existing_workflow: bool = True) -> WorkflowHandle[Any]:
        """A handle on a workflow; with ``existing_workflow=False`` wait for it to be created.

        Raises:
            WorkflowNotFoundError: it does not exist (and ``existing_workflow`` is True).
        """
        run_sync(self._find(workflow_id, existing_workflow))
        return WorkflowHandle(self._rt, workflow_id)

    async def retrieve_workflow_async(self, workflow_id: str, existing_workflow: bool = True
                                      ) -> WorkflowHandleAsync[Any]:
        await self._find(workflow_id, existing_workflow)
        return WorkflowHandleAsync(self._rt, workflow_id)

    async def _find(self, workflow_id: str, existing_workflow: bool) -> None:
        if existing_workflow:
            row = await self._rt.io(self._rt.store.get_workflow, workflow_id, load_input=False, load_output=False)
            if row is None:
                raise WorkflowNotFoundError(workflow_id)
        else:
            await wait_for_workflow(self._rt, workflow_id)

    def get_workflow_status(self, workflow_id: str) -> WorkflowStatus | None:
        return run_sync(self.get_workflow_status_async(workflow_id))

    async def get_workflow_status_async(self, workflow_id: str) -> WorkflowStatus | None:
        row = await self._rt.io(self._rt.store.get_workflow, workflow_id)
        return to_status(row) if row is not None else None

    def get_result(self, workflow_id: str) -> Any:
        return run_sync(get_outcome(self._rt, workflow_id))

    async def get_result_async(self, workflow_id: str) -> Any:
        return await get_outcome(self._rt, workflow_id)
