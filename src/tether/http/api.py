"""What the gateway needs from Tether: the async half of the public API that ``DBOS`` and ``DBOSClient`` share.

The gateway is handed either the launched ``DBOS`` class (mounted inside an application) or a ``DBOSClient``
(``tether serve``, next to applications in other processes); both satisfy :class:`WorkflowAPI`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, Protocol

from tether.types import (
    EventVersion,
    PendingMessage,
    StepInfo,
    StreamInfo,
    StreamRead,
    WorkflowSerializationFormat,
    WorkflowStatus,
)

if TYPE_CHECKING:  # annotations only
    from typing_extensions import Unpack

    from tether.api.filters import WorkflowFilters


class Handle(Protocol):
    workflow_id: str

    async def get_result(self, *, timeout_seconds: float | None = None) -> Any: ...


class WorkflowAPI(Protocol):
    async def send_async(self, destination_id: str, message: Any, topic: str | None = None, *,
                         idempotency_key: str | None = None,
                         serialization_type: WorkflowSerializationFormat | None = ...) -> None: ...

    async def get_event_async(self, workflow_id: str, key: str, timeout_seconds: float = 60) -> Any: ...

    async def get_all_events_async(self, workflow_id: str) -> dict[str, Any]: ...

    async def get_event_with_version_async(self, workflow_id: str, key: str,
                                           timeout_seconds: float = 60) -> EventVersion | None: ...

    async def list_event_versions_async(self, workflow_id: str, key: str, *,
                                        from_version: int = 1) -> list[EventVersion]: ...

    def watch_event_async(self, workflow_id: str, key: str, *,
                          from_version: int = 1) -> AsyncGenerator[EventVersion, None]: ...

    async def read_stream_nowait_async(self, workflow_id: str, key: str, offset: int = 0) -> StreamRead: ...

    def read_stream_async(self, workflow_id: str, key: str, *, offset: int = 0) -> AsyncGenerator[Any, None]: ...

    async def list_streams_async(self, workflow_id: str) -> list[StreamInfo]: ...

    async def get_workflow_status_async(self, workflow_id: str) -> WorkflowStatus | None: ...

    async def retrieve_workflow_async(self, workflow_id: str, existing_workflow: bool = True) -> Handle: ...

    async def list_workflows_async(self, /, **filters: Unpack[WorkflowFilters]) -> list[WorkflowStatus]: ...

    async def list_workflow_steps_async(self, workflow_id: str, *, limit: int | None = None,
                                        offset: int | None = None) -> list[StepInfo]: ...

    async def cancel_workflow_async(self, workflow_id: str) -> None: ...

    async def resume_workflow_async(self, workflow_id: str, *, queue_name: str | None = None) -> Handle: ...

    async def fork_workflow_async(self, workflow_id: str, start_step: int, *,
                                  application_version: str | None = None) -> Handle: ...

    async def list_pending_messages_async(self, workflow_id: str, topic: str | None = None, *,
                                          load_values: bool = False, limit: int | None = None,
                                          offset: int | None = None) -> list[PendingMessage]: ...

    async def pending_message_counts_async(self, workflow_id: str) -> dict[str | None, int]: ...
