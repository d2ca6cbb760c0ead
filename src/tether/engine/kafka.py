"""Kafka consumers (``@DBOS.kafka_consumer``): each message of the topics starts its workflow exactly once.

A consumer runs on a thread of its own while DBOS is launched, with a ``confluent_kafka.Consumer``. For each
batch it reads, it enqueues one workflow per message, durably, under an ID made of the message's topic,
partition, consumer group and offset (DBOS's format, so a database moved from DBOS keeps its record of what
was consumed). A message delivered again -- after a crash, a rebalance, a restart -- finds its workflow
already recorded and starts nothing. Only once the batch is durable does the consumer store its offsets,
which Kafka's auto-commit then sends to the broker: a committed offset never runs ahead of what this
database holds, so a crash between the two re-delivers the messages, and the IDs absorb them.

The workflows go to a queue: DBOS's internal ``_dbos_kafka_queue`` (or the consumer's own ``queue_name``),
or, for ``ordering="partition"`` / ``"topic"``, the partitioned ``_dbos_kafka_ordered_queue`` with one
workflow at a time per partition key (the group and topic, and the partition for ``"partition"``), so the
messages of one key are processed one after another, in offset order, and different keys in parallel.

confluent-kafka is imported only when a consumer is declared (``pip install 'tether[kafka]'``).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tether.engine.bridge import run_sync
from tether.engine.queues import register_queue, registered_queue
from tether.engine.registry import WORKFLOW_ATTR, RegisteredWorkflow
from tether.engine.runtime import Runtime, logger
from tether.engine.starts import StartOptions, prepare_start
from tether.errors import DatabaseUnavailableError, DBOSInitializationError, NotLaunchedError, StorageError
from tether.storage.base import QueuePolicy

KafkaOrdering = Literal["none", "partition", "topic"]
ORDERINGS: tuple[str, ...] = ("none", "partition", "topic")

KAFKA_QUEUE = "_dbos_kafka_queue"
"""Where the workflows of consumers with ``ordering="none"`` and no ``queue_name`` go."""
KAFKA_ORDERED_QUEUE = "_dbos_kafka_ordered_queue"
"""The partitioned queue of ordered consumers: one workflow at a time per partition key."""

RETRY_MIN_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
CONSUME_TIMEOUT_SECONDS = 1.0
"""How long one ``consume`` waits for messages: also how soon a consumer notices it is to stop."""
STOP_WAIT_SECONDS = 10.0


@dataclass
class KafkaMessage:
    """One consumed Kafka message, the argument of a ``@DBOS.kafka_consumer`` workflow (fields as
    ``confluent_kafka.Message`` gives them)."""

    headers: list[tuple[str, str | bytes]] | None
    key: str | bytes | None
    latency: float | None
    leader_epoch: int | None
    offset: int | None
    partition: int | None
    timestamp: tuple[int, int]
    topic: str | None
    value: str | bytes | None


@dataclass
class KafkaConsumer:
    """A declared consumer: the workflow function, the consumer's configuration (DBOS's defaults applied),
    what it reads and where its workflows go."""

    func: Callable[..., Any]
    func_name: str
    config: dict[str, Any]
    topics: list[str]
    ordering: KafkaOrdering
    batch_size: int
    queue_name: str
    custom_queue: bool
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def group_id(self) -> str:
        return str(self.config["group.id"])


_consumers: list[KafkaConsumer] = []
_lock = threading.Lock()


def declared() -> list[KafkaConsumer]:
    """The consumers declared in this process (a copy)."""
    with _lock:
        return list(_consumers)


def declare(consumer: KafkaConsumer, rt: Runtime | None) -> None:
    """Add a consumer, and start it now if DBOS is launched (``rt``); otherwise it starts at launch.

    Raises:
        DBOSInitializationError: DBOS is launched and the consumer's own queue is partitioned.
    """
    if rt is not None:
        check_queue(rt, consumer)
    internal_queue(consumer.queue_name, None if rt is None else rt.settings.kafka_queue_polling_interval_sec)
    with _lock:
        _consumers.append(consumer)
    if rt is not None:
        _start(rt, consumer)


def internal_queue(name: str, polling_interval_sec: float | None) -> None:
    """Declare DBOS's internal Kafka queue ``name`` in this process (other names are the consumer's own)."""
    if name not in (KAFKA_QUEUE, KAFKA_ORDERED_QUEUE):
        return
    interval_ms = max(1, round((polling_interval_sec or 1.0) * 1000))
    register_queue(QueuePolicy(name, partition_concurrency=1 if name == KAFKA_ORDERED_QUEUE else None,
                               polling_interval_ms=interval_ms))


def check_queue(rt: Runtime, consumer: KafkaConsumer) -> None:
    """Raises:
        DBOSInitializationError: the consumer's own queue is partitioned (its workflows carry no partition key,
            so they would never be dequeued)."""
    if not consumer.custom_queue:
        return
    policy = registered_queue(consumer.queue_name)
    if policy is None:
        try:
            policy = rt.store.get_queue(consumer.queue_name)
        except StorageError as exc:
            logger.warning("Cannot check the queue %r of Kafka consumer %s: %s", consumer.queue_name,
                           consumer.func_name, exc)
            return
    if policy is not None and policy.partitioned:
        raise DBOSInitializationError(
            f"Kafka consumer {consumer.func_name}'s queue {consumer.queue_name} is partitioned, which a "
            "consumer's own queue cannot be; use ordering='partition' or 'topic' for ordered processing")


def start_consumers(rt: Runtime) -> None:
    """Start every declared consumer (at launch), the internal queues taking the configured polling interval.

    Raises:
        DBOSInitializationError: a consumer's own queue is partitioned; no consumer is started.
    """
    consumers = declared()
    for consumer in consumers:
        check_queue(rt, consumer)
    for name in {c.queue_name for c in consumers}:
        internal_queue(name, rt.settings.kafka_queue_polling_interval_sec)
    for consumer in consumers:
        _start(rt, consumer)


def stop_consumers(*, forget: bool = False) -> None:
    """Stop the consumers' threads and wait for them (each closes its consumer, leaving its group); with
    ``forget`` (``DBOS.destroy(destroy_registry=True)``) the declarations go too."""
    consumers = declared()
    for consumer in consumers:
        consumer.stop.set()
    for consumer in consumers:
        if consumer.thread is not None:
            consumer.thread.join(STOP_WAIT_SECONDS)
            consumer.thread = None
        consumer.stop = threading.Event()
    if forget:
        with _lock:
            _consumers.clear()


def _start(rt: Runtime, consumer: KafkaConsumer) -> None:
    if consumer.thread is not None and consumer.thread.is_alive():
        return
    consumer.thread = threading.Thread(target=_consume, args=(rt, consumer, consumer.stop), daemon=True,
                                       name=f"tether-kafka-{consumer.func_name}")
    consumer.thread.start()


def _registration(consumer: KafkaConsumer) -> RegisteredWorkflow | None:
    target = getattr(consumer.func, "__func__", consumer.func)
    reg = getattr(target, WORKFLOW_ATTR, None)
    return reg if isinstance(reg, RegisteredWorkflow) else None


def _consume(rt: Runtime, consumer: KafkaConsumer, stop: threading.Event) -> None:
    """The consumer's thread: read batches until stopped, enqueue each durably, then store its offsets."""
    from confluent_kafka import Consumer

    def connect() -> Any:
        kafka = Consumer(consumer.config)
        kafka.subscribe(consumer.topics)
        return kafka

    kafka = _until_done(stop, connect, f"create Kafka consumer {consumer.func_name}")
    wait = RETRY_MIN_SECONDS
    try:
        while kafka is not None and not stop.is_set() and not rt.destroyed:
            try:
                messages = kafka.consume(consumer.batch_size, timeout=CONSUME_TIMEOUT_SECONDS)
                if stop.is_set():
                    return  # nothing stored: the broker gives these messages again to the next consumer
                valid, fatal = _sorted_out(consumer, messages)
                if valid and not _enqueue_all(rt, consumer, valid, stop):
                    return  # stopped before the batch was durable: not stored, so given again
                store_offsets(kafka, _last_per_partition(valid))
                if fatal:
                    kafka = _reconnect(kafka, connect, stop, consumer)
                wait = RETRY_MIN_SECONDS
            except Exception as exc:  # the Kafka client's own failures; a new consumer starts from the stored offsets
                logger.error("Kafka consumer %s failed: %s; trying again in %.0f s", consumer.func_name, exc, wait)
                if stop.wait(wait):
                    return
                wait = min(wait * 2, RETRY_MAX_SECONDS)
                kafka = _reconnect(kafka, connect, stop, consumer)
    finally:
        if kafka is not None:
            try:
                kafka.close()
            except Exception as exc:
                logger.warning("Closing Kafka consumer %s failed: %s", consumer.func_name, exc)


def _reconnect(kafka: Any, connect: Callable[[], Any], stop: threading.Event, consumer: KafkaConsumer) -> Any:
    try:
        kafka.close()
    except Exception as exc:
        logger.warning("Closing Kafka consumer %s failed: %s", consumer.func_name, exc)
    return _until_done(stop, connect, f"create Kafka consumer {consumer.func_name}")


def _until_done(stop: threading.Event, operation: Callable[[], Any], what: str) -> Any:
    """``operation()``, tried again with a growing pause until it succeeds; None once ``stop`` is set."""
    wait = RETRY_MIN_SECONDS
    while not stop.is_set():
        try:
            return operation()
        except Exception as exc:
            logger.error("Cannot %s: %s; trying again in %.0f s", what, exc, wait)
            if stop.wait(wait):
                return None
            wait = min(wait * 2, RETRY_MAX_SECONDS)
    return None


def _sorted_out(consumer: KafkaConsumer, messages: Sequence[Any]) -> tuple[list[Any], bool]:
    """The messages without an error, and whether an error was fatal (the consumer must then be replaced)."""
    from confluent_kafka import KafkaError

    valid, fatal = [], False
    for message in messages:
        err = message.error()
        if err is None:
            valid.append(message)
            continue
        logger.error("Kafka consumer %s (group %s): %s", consumer.func_name, consumer.group_id, describe(err))
        fatal = fatal or err.code() == KafkaError._FATAL or bool(err.fatal())
    return valid, fatal


def _enqueue_all(rt: Runtime, consumer: KafkaConsumer, messages: list[Any], stop: threading.Event) -> bool:
    """Enqueue one workflow per message, together (their inserts share commits), until every one is durable
    or cannot be made so (a message that cannot be stored is dropped, logged). False if stopped first."""
    reg = _registration(consumer)
    if reg is None:
        logger.error("Kafka consumer %s is not a @DBOS.workflow() function: %d messages dropped",
                     consumer.func_name, len(messages))
        return True
    bound = (consumer.func.__self__,) if inspect.ismethod(consumer.func) else ()
    pending = [(message, _kafka_message(message)) for message in messages]
    wait = RETRY_MIN_SECONDS
    while pending:
        if stop.is_set() or rt.destroyed:
            return False
        outcomes = run_sync(_enqueue_batch(rt, reg, bound, consumer, [m for _, m in pending]))
        again = []
        for (raw, message), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, (DatabaseUnavailableError, NotLaunchedError)):
                again.append((raw, message))
            elif isinstance(outcome, BaseException):
                logger.error("Kafka message %s[%s]@%s dropped: it cannot be enqueued: %s", message.topic,
                             message.partition, message.offset, outcome)
        pending = again
        if pending and stop.wait(wait):
            return False
        wait = min(wait * 2, RETRY_MAX_SECONDS)
    return True


async def _enqueue_batch(rt: Runtime, reg: RegisteredWorkflow, bound: tuple[Any, ...], consumer: KafkaConsumer,
                         messages: list[KafkaMessage]) -> list[Any]:
    return await asyncio.gather(*(prepare_start(rt, reg, (*bound, m), {}, _options(consumer, m))
                                  for m in messages), return_exceptions=True)


def _options(consumer: KafkaConsumer, message: KafkaMessage) -> StartOptions:
    group = consumer.group_id
    key = None
    if consumer.ordering == "partition":
        key = f"{group}:{message.topic}:{message.partition}"
    elif consumer.ordering == "topic":
        key = f"{group}:{message.topic}"
    return StartOptions(workflow_id=workflow_id(message, group), queue_name=consumer.queue_name,
                        queue_partition_key=key)


def workflow_id(message: KafkaMessage, group_id: str) -> str:
    """The ID of the workflow a message starts: the same for every delivery of that message to that group."""
    return f"kafka-unique-id-{message.topic}-{message.partition}-{group_id}-{message.offset}"


def _kafka_message(message: Any) -> KafkaMessage:
    return KafkaMessage(headers=message.headers(), key=message.key(), latency=message.latency(),
                        leader_epoch=message.leader_epoch(), offset=message.offset(),
                        partition=message.partition(), timestamp=message.timestamp(), topic=message.topic(),
                        value=message.value())


def _last_per_partition(messages: list[Any]) -> list[Any]:
    """The last message of each partition in a batch (a batch keeps each partition's order)."""
    last: dict[tuple[str, int], Any] = {}
    for message in messages:
        last[(message.topic(), message.partition())] = message
    return list(last.values())


def store_offsets(kafka: Any, messages: list[Any]) -> None:
    """Mark these messages consumed (auto-commit sends the offsets to the broker). A partition revoked since
    keeps its committed offset: its messages are delivered again, and their IDs absorb them."""
    from confluent_kafka import KafkaException

    for message in messages:
        try:
            kafka.store_offsets(message=message)
        except KafkaException as exc:
            logger.warning("Cannot store the Kafka offset of %s[%s]@%s: %s", message.topic(),
                           message.partition(), message.offset(), exc)


def describe(err: Any) -> str:
    """A KafkaError as ``NAME (code): detail``, without raising (its accessors are C methods)."""
    try:
        return f"{err.name()} ({err.code()}): {err.str()}"
    except Exception:
        try:
            return repr(err)
        except Exception:
            return "<a Kafka error that cannot be described>"
