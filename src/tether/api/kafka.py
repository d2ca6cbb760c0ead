"""``@DBOS.kafka_consumer``: a workflow run exactly once for each message of some Kafka topics.

    @DBOS.kafka_consumer({"bootstrap.servers": "broker:9092", "group.id": "orders"}, ["orders"],
                         ordering="partition")
    @DBOS.workflow()
    def on_order(msg: KafkaMessage) -> None: ...

The configuration is confluent-kafka's (librdkafka's), with DBOS's rules applied on a copy: messages are read
from the earliest offset unless ``auto.offset.reset`` says otherwise; offsets are stored by Tether once the
message's workflow is durably enqueued (``enable.auto.offset.store`` is turned off) and committed by Kafka's
auto-commit (``enable.auto.commit`` is turned on); a missing ``group.id`` is made from the function's name and
the topics. How the consumer runs: :mod:`tether.engine.kafka`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from tether.engine import kafka as engine
from tether.engine.kafka import KafkaConsumer, KafkaMessage, KafkaOrdering
from tether.engine.registry import WORKFLOW_ATTR
from tether.engine.runtime import Runtime
from tether.errors import DBOSException, DBOSInitializationError

__all__ = ["KafkaMessage", "KafkaOrdering", "kafka_consumer"]

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("tether")


def kafka_consumer(runtime: Runtime | None, config: dict[str, Any], topics: list[str], *,
                   ordering: KafkaOrdering | None = None, batch_size: int = 250,
                   queue_name: str | None = None) -> Callable[[F], F]:
    """The decorator of ``DBOS.kafka_consumer`` (``runtime``: DBOS's if launched, else None).

    Raises:
        DBOSException: confluent-kafka is not installed (``pip install 'tether[kafka]'``).
        DBOSInitializationError: an unknown ``ordering``, a ``batch_size`` below 1, a ``queue_name`` with an
            ordering, no topics; and, from the decorator, a second consumer of a topic in the same group, or
            (once launched) a partitioned ``queue_name``. Nothing is declared then.
    """
    try:
        import confluent_kafka  # noqa: F401
    except ImportError as exc:
        raise DBOSException("@DBOS.kafka_consumer needs confluent-kafka: pip install 'tether[kafka]'") from exc
    resolved = "none" if ordering is None else ordering
    if resolved not in engine.ORDERINGS:
        raise DBOSInitializationError(
            f"invalid Kafka ordering {ordering!r}: must be 'none', 'partition' or 'topic'")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DBOSInitializationError(f"Kafka batch_size must be a positive integer, not {batch_size!r}")
    if queue_name is not None and resolved != "none":
        raise DBOSInitializationError(
            "a consumer's own queue_name goes only with ordering='none': ordered consumers share a partitioned "
            "internal queue")
    if not isinstance(config, dict):
        raise DBOSInitializationError("the Kafka consumer's config must be a dict of confluent-kafka settings")
    if isinstance(topics, str) or not topics or not all(isinstance(t, str) and t for t in topics):
        raise DBOSInitializationError(f"Kafka topics must be a non-empty list of topic names, not {topics!r}")
    topic_list = list(topics)

    def decorate(func: F) -> F:
        name = _function_name(func)
        cfg = _consumer_config(config, name, topic_list)
        consumer = KafkaConsumer(
            func=func, func_name=name, config=cfg, topics=topic_list, ordering=resolved,
            batch_size=batch_size, custom_queue=queue_name is not None,
            queue_name=queue_name or (engine.KAFKA_QUEUE if resolved == "none" else engine.KAFKA_ORDERED_QUEUE))
        _check_group(consumer)
        engine.declare(consumer, runtime)
        return func

    return decorate


def _function_name(func: Callable[..., Any]) -> str:
    reg = getattr(getattr(func, "__func__", func), WORKFLOW_ATTR, None)
    return str(getattr(reg, "name", None) or getattr(func, "__qualname__", repr(func)))


def _consumer_config(config: dict[str, Any], name: str, topics: list[str]) -> dict[str, Any]:
    """A copy of ``config`` with DBOS's rules applied (see the module's docstring)."""
    cfg = dict(config)
    cfg.setdefault("auto.offset.reset", "earliest")
    if cfg.get("enable.auto.offset.store", True) is not False:
        if cfg.get("enable.auto.offset.store") is True:
            logger.warning("Kafka consumer %s: enable.auto.offset.store=True overridden: offsets are stored once "
                           "each message's workflow is durable", name)
        cfg["enable.auto.offset.store"] = False
    if str(cfg.get("enable.auto.commit", True)).strip().lower() in ("false", "0"):
        logger.warning("Kafka consumer %s: enable.auto.commit=False overridden: auto-commit sends the offsets "
                       "stored once each message's workflow is durable", name)
        cfg["enable.auto.commit"] = True
    if cfg.get("group.id") is None:
        cfg["group.id"] = group_name(name, topics)
        logger.warning("Kafka consumer %s has no group.id: using %s", name, cfg["group.id"])
    cfg["error_cb"] = _error_callback(name, str(cfg["group.id"]), topics, cfg.get("error_cb"))
    return cfg


def group_name(func_name: str, topics: list[str]) -> str:
    """The group of a consumer declared without ``group.id`` (as DBOS makes it)."""
    safe = "-".join(re.sub(r"[^a-zA-Z0-9\-]", "", part) for part in [func_name, *topics])
    return f"dbos-kafka-group-{safe}"[:255]


def _error_callback(name: str, group: str, topics: list[str], user: Callable[[Any], None] | None
                    ) -> Callable[[Any], None]:
    """librdkafka's ``error_cb`` (where connection and authentication failures are told): logged, then passed
    to the application's own callback, whose exceptions are contained."""

    def on_error(err: Any) -> None:
        logger.error("Kafka consumer %s (group %s, topics %s): %s", name, group, ", ".join(topics),
                     engine.describe(err))
        if user is not None:
            try:
                user(err)
            except Exception as exc:
                logger.warning("The error_cb of Kafka consumer %s failed: %s", name, exc)

    return on_error


def _check_group(consumer: KafkaConsumer) -> None:
    """Raises:
        DBOSInitializationError: another consumer of this group reads one of these topics (Kafka would give
            each message to only one of them)."""
    for other in engine.declared():
        if other.group_id != consumer.group_id:
            continue
        shared = sorted(set(other.topics) & set(consumer.topics))
        if shared:
            raise DBOSInitializationError(
                f"Kafka consumers {other.func_name} and {consumer.func_name} share group.id "
                f"{consumer.group_id} and topic(s) {shared}: each message would reach only one of them. Give "
                "them distinct group IDs.")
        logger.warning("Kafka consumers %s and %s share group.id %s with other topics: each rebalance of one "
                       "stops the other too; consider distinct group IDs", other.func_name, consumer.func_name,
                       consumer.group_id)


class KafkaAPI:
    """``DBOS.kafka_consumer``."""

    _runtime: Runtime | None  # DBOS's: the launched runtime, if any

    @classmethod
    def kafka_consumer(cls, config: dict[str, Any], topics: list[str], *, ordering: KafkaOrdering | None = None,
                       batch_size: int = 250, queue_name: str | None = None) -> Callable[[F], F]:
        """Decorate a workflow (above ``@DBOS.workflow()``) taking one :class:`KafkaMessage`, to run it
        exactly once for each message of ``topics`` (names, or ``^``-prefixed patterns) read with the
        confluent-kafka consumer ``config``. ``ordering``: ``"none"`` (the default) runs the workflows in
        parallel, ``"partition"`` one at a time per partition, ``"topic"`` one at a time per topic, each in
        offset order. ``batch_size``: at most this many messages are read and enqueued together.
        ``queue_name``: a queue of your own for the workflows (``ordering="none"`` only; not partitioned).
        Consumers start at launch (at once if DBOS is launched) and stop at ``DBOS.destroy()``.

        Raises:
            DBOSException: confluent-kafka is not installed (``pip install 'tether[kafka]'``).
            DBOSInitializationError: an unknown ``ordering``, a ``batch_size`` below 1, a ``queue_name`` with an
                ordering, no topics, another consumer of one of the topics in the same group, or (once
                launched) a partitioned ``queue_name``. Nothing is declared then.
        """
        return kafka_consumer(cls._runtime, config, topics, ordering=ordering, batch_size=batch_size,
                              queue_name=queue_name)
