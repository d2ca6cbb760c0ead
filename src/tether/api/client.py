"""``DBOSClient``: talk to workflows from outside the application (another process, a web handler, a script)
without registering or running any workflow."""

from __future__ import annotations

import os
from typing import Any

from tether.api.client_management import ClientManagement
from tether.api.client_transactions import CallerTransactions
from tether.api.event_watching import EventWatching
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.mailboxes import MailboxReading
from tether.api.queue_api import ClientQueueAPI
from tether.api.schedules import ClientSchedules
from tether.api.status import to_status
from tether.api.stream_reading import StreamReading
from tether.api.versions import VersionManagement
from tether.config import DBOSConfig, settings_from_config
from tether.engine import events, messages, validation, waiting
from tether.engine.bridge import run_sync
from tether.engine.outcomes import get_outcome, wait_for_workflow
from tether.engine.runtime import Runtime
from tether.errors import ConfigError, DBOSException, WorkflowNotFoundError
from tether.serialization import set_default_serializer
from tether.types import WorkflowSerializationFormat, WorkflowStatus


class DBOSClient(ClientManagement, ClientSchedules, ClientQueueAPI, StreamReading, MailboxReading,
                 EventWatching, VersionManagement, CallerTransactions):
    """A connection to a Tether system database.

    Raises:
        ConfigError: the URL is not a supported database URL.
        StorageError: the database cannot be reached.
    """

    def __init__(self, system_database_url: str | None = None, *, system_database_engine: Any = None,
                 dbos_system_schema: str | None = "dbos", serializer: Any = None,
                 system_database_pool_size: int | None = None,
                 system_database_polling_concurrency: int | None = None, use_listen_notify: bool = False,
                 application_name: str | None = None, lazy: bool = False, retry_connection_errors: bool = True,
                 observability_query_timeout_sec: float | None = None,
                 sys_db_idle_transaction_timeout_sec: float | None = None, sharding: bool = False,
                 name: str | None = None) -> None:
        """Connect to a system database (``system_database_url``, else ``DBOS_SYSTEM_DATABASE_URL``).

        The options are DBOS's. ``lazy`` connects on first use instead of now; ``serializer`` decodes and
        encodes values as the application's ``serializer`` config key does. The SQLAlchemy, schema, polling
        and sharding options are accepted and have no effect (see docs/compatibility.md); a custom engine or
        sharding is refused, because it would silently be ignored. ``application_name`` is the application the
        client acts for: the workflows it starts, and the schedules and queues it creates, belong to it, and
        ``list_schedules`` and ``list_queues`` list that application's (and the unclaimed ones) by default; a
        client of no application creates unclaimed schedules and queues and lists everything. ``name`` (Tether's
        own) names the client's connections and the workflows it starts when it has no application.

        Raises:
            ArgumentTypeError: ``application_name`` is neither None nor a string.
            InvalidArgumentError: ``application_name`` is empty or not acceptable text.
            ConfigError: no URL, an unsupported URL, or an option Tether cannot honour.
            DBOSException: ``lazy`` together with ``use_listen_notify`` (the listener connects at once).
        """
        if lazy and use_listen_notify:
            raise DBOSException("use_listen_notify cannot be combined with lazy: the notification listener "
                                "connects at once")
        if system_database_engine is not None:
            raise ConfigError("system_database_engine is not supported: Tether does not use SQLAlchemy; "
                              "give system_database_url")
        if sharding:
            raise ConfigError("sharding is not supported (a DBOS enterprise feature)")
        url = system_database_url or os.environ.get("DBOS_SYSTEM_DATABASE_URL")
        if not url:
            raise ConfigError("DBOSClient needs system_database_url (or DBOS_SYSTEM_DATABASE_URL)")
        # The application it acts for: the workflows, schedules and queues it creates belong to it, and it lists
        # those (with unclaimed ones) by default. None: it acts for no application, and lists every one's.
        self._application_name = validation.optional_text(application_name, "application_name")
        config: DBOSConfig = {"name": name or self._application_name or "tether-client",
                              "system_database_url": url, "executor_id": "client",
                              "db_pool_size": system_database_pool_size or 4, "serializer": serializer}
        self._settings = settings_from_config(config)
        if serializer is not None:
            set_default_serializer(serializer)
        if not lazy:
            self._rt = Runtime(self._settings)

    def __getattr__(self, name: str) -> Any:
        # A lazy client has no ``_rt`` until first used: connect then.
        if name == "_rt" and "_settings" in self.__dict__:
            self._rt = Runtime(self._settings)
            return self._rt
        raise AttributeError(name)

    def check_connection(self) -> None:
        """Connect (if ``lazy`` and not yet connected) and make sure the database answers.

        Raises:
            StorageError: the database cannot be reached.
        """
        rt = self._rt
        rt.store.get_workflow("")

    async def check_connection_async(self) -> None:
        rt = self._rt
        await rt.io(rt.store.get_workflow, "")

    def destroy(self) -> None:
        """Close the client's connections."""
        rt = self.__dict__.get("_rt")
        if rt is not None and not rt.destroyed:  # a second destroy is harmless
            rt.close()

    def __enter__(self) -> DBOSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # -- messages --------------------------------------------------------------------------------------
    def send(self, destination_id: str, message: Any, topic: str | None = None, idempotency_key: str | None = None,
             *, serialization_type: WorkflowSerializationFormat | None = None, send_to_forks: bool = False,
             shard_key: str | None = None) -> None:
        """Send a message to a workflow; with ``idempotency_key`` it is delivered once however often sent.

        Raises:
            NonExistentWorkflowError: no workflow has ``destination_id``.
            SerializationError: the message cannot be serialized.
        """
        run_sync(self.send_async(destination_id, message, topic, idempotency_key=idempotency_key,
                                 serialization_type=serialization_type, send_to_forks=send_to_forks))

    async def send_async(self, destination_id: str, message: Any, topic: str | None = None,
                         idempotency_key: str | None = None, *,
                         serialization_type: WorkflowSerializationFormat | None = None,
                         send_to_forks: bool = False, shard_key: str | None = None) -> None:
        await messages.send(self._rt, destination_id, message, topic, idempotency_key=idempotency_key,
                            serialization_type=serialization_type, send_to_forks=send_to_forks)

    # -- events ----------------------------------------------------------------------------------------
    def get_event(self, workflow_id: str, key: str, timeout_seconds: float = 60, *,
                  shard_key: str | None = None) -> Any:
        """The latest value of an event, waiting up to ``timeout_seconds`` for it (None then)."""
        return run_sync(self.get_event_async(workflow_id, key, timeout_seconds))

    async def get_event_async(self, workflow_id: str, key: str, timeout_seconds: float = 60, *,
                              shard_key: str | None = None) -> Any:
        return await events.get_event(self._rt, workflow_id, key, timeout_seconds)

    def get_all_events(self, workflow_id: str) -> dict[str, Any]:
        return run_sync(self.get_all_events_async(workflow_id))

    async def get_all_events_async(self, workflow_id: str) -> dict[str, Any]:
        return await events.get_all_events(self._rt, workflow_id)

    # -- workflows -------------------------------------------------------------------------------------
    def retrieve_workflow(self, workflow_id: str, existing_workflow: bool = True, *,
                          shard_key: str | None = None) -> WorkflowHandle[Any]:
        """A handle on a workflow; with ``existing_workflow=False`` wait for it to be created.

        Raises:
            WorkflowNotFoundError: it does not exist (and ``existing_workflow`` is True).
        """
        run_sync(self._find(workflow_id, existing_workflow))
        return WorkflowHandle(self._rt, workflow_id)

    async def retrieve_workflow_async(self, workflow_id: str, existing_workflow: bool = True, *,
                                      shard_key: str | None = None) -> WorkflowHandleAsync[Any]:
        await self._find(workflow_id, existing_workflow)
        return WorkflowHandleAsync(self._rt, workflow_id)

    async def _find(self, workflow_id: str, existing_workflow: bool) -> None:
        if existing_workflow:
            wfid = validation.workflow_id(workflow_id)
            row = await self._rt.io(self._rt.store.get_workflow, wfid, load_input=False, load_output=False)
            if row is None:
                raise WorkflowNotFoundError(workflow_id)
        else:
            await wait_for_workflow(self._rt, workflow_id)

    def get_workflow_status(self, workflow_id: str) -> WorkflowStatus | None:
        return run_sync(self.get_workflow_status_async(workflow_id))

    async def get_workflow_status_async(self, workflow_id: str) -> WorkflowStatus | None:
        row = await self._rt.io(self._rt.store.get_workflow, validation.workflow_id(workflow_id))
        return to_status(row) if row is not None else None

    def wait_first(self, handles: list[WorkflowHandle[Any]], *, polling_interval_sec: float = 1.0
                   ) -> WorkflowHandle[Any]:
        """The first of ``handles`` whose workflow ends (the earliest to end when several have).

        Raises:
            ValueError: ``handles`` is empty.
        """
        first = run_sync(waiting.wait_first(self._rt, [h.workflow_id for h in handles], polling_interval_sec,
                                            record=False))
        return next(h for h in handles if h.workflow_id == first)

    async def wait_first_async(self, handles: list[WorkflowHandleAsync[Any]], *, polling_interval_sec: float = 1.0
                               ) -> WorkflowHandleAsync[Any]:
        """Coroutine form of :meth:`wait_first`."""
        first = await waiting.wait_first(self._rt, [h.workflow_id for h in handles], polling_interval_sec,
                                         record=False)
        return next(h for h in handles if h.workflow_id == first)

    def get_result(self, workflow_id: str) -> Any:
        return run_sync(get_outcome(self._rt, workflow_id))

    async def get_result_async(self, workflow_id: str) -> Any:
        return await get_outcome(self._rt, workflow_id)
