"""``@DBOS.kafka_consumer``: every message of the topics runs its workflow once, with the message as its
argument; a message delivered again runs nothing more; ordered consumers keep each partition's (or topic's)
order; bad declarations are refused before anything is declared. Both backends, a broker over Kafka's
protocol (tests/kafka/conftest.py)."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from typing import Any

import pytest

from tests.conftest import make_config
from tests.kafka.conftest import Broker, wait_until
from tether import DBOS, KafkaMessage, Queue
from tether.engine import kafka as engine
from tether.errors import DBOSInitializationError

seen: dict[str, list[KafkaMessage]] = defaultdict(list)
_seen_lock = threading.Lock()


def _note(msg: KafkaMessage) -> None:
    with _seen_lock:
        seen[str(msg.topic)].append(msg)


def _count(topic: str) -> int:
    with _seen_lock:
        return len(seen[topic])


@DBOS.workflow()
def on_message(msg: KafkaMessage) -> None:
    _note(msg)


@DBOS.workflow()
async def on_message_async(msg: KafkaMessage) -> None:
    _note(msg)


def _config(kafka: Broker, group: str | None = None, **extra: Any) -> dict[str, Any]:
    # A closed consumer's place in its group is given up after 6 s at the latest (the broker's minimum), so a
    # relaunch in the same group is not kept waiting for the default 45 s.
    config: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap, "auto.commit.interval.ms": 100,
                              "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
    if group is not None:
        config["group.id"] = group
    config.update(extra)
    return config


@pytest.mark.parametrize("workflow", [on_message, on_message_async], ids=["sync", "async"])
def test_each_message_runs_its_workflow_once_with_the_message(dbos: type[DBOS], kafka: Broker,
                                                               workflow: Any) -> None:
    topic = kafka.topic()
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, [(f"key {i}".encode(), f"value {i}".encode()) for i in range(3)],
                  headers=[("origin", b"test")])
    DBOS.kafka_consumer(_config(kafka, group), [topic])(workflow)  # launched: it starts at once
    wait_until(lambda: _count(topic) >= 3, what="three messages")
    messages = sorted(seen[topic], key=lambda m: m.offset or 0)
    assert [(m.key, m.value, m.offset, m.partition) for m in messages] == [
        (f"key {i}".encode(), f"value {i}".encode(), i, 0) for i in range(3)]
    assert all(m.topic == topic and m.headers == [("origin", b"test")] for m in messages)
    ids = {f"kafka-unique-id-{topic}-0-{group}-{i}" for i in range(3)}

    def statuses() -> dict[str, str]:
        return {s.workflow_id: s.status for s in DBOS.list_workflows(workflow_ids=sorted(ids))}

    # The body has run; its end is recorded right after.
    wait_until(lambda: statuses() == dict.fromkeys(ids, "SUCCESS"), what="the three workflows' ends")
    wait_until(lambda: kafka.committed(group, topic) == [3], what="the offsets committed")
    assert _count(topic) == 3


def test_a_message_delivered_again_runs_no_second_workflow(db_url: str, kafka: Broker,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The process stops after the workflows of a batch are durable and before its offsets reach the
    broker (their storing is made to do nothing). The next launch is given the same messages again: their
    workflows are found already recorded, and none runs a second time; the offsets are then committed."""
    topic = kafka.topic()
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, [(b"k", f"v{i}".encode()) for i in range(3)])
    DBOS.kafka_consumer(_config(kafka, group), [topic])(on_message)  # declared before launch
    config = make_config(db_url)
    stored: list[int] = []
    monkeypatch.setattr(engine, "store_offsets", lambda kafka, messages: stored.append(len(messages)))
    ids = [f"kafka-unique-id-{topic}-0-{group}-{i}" for i in range(3)]
    DBOS(config=config)
    DBOS.launch()
    try:
        wait_until(lambda: _count(topic) >= 3 and stored, what="three messages")
        # The bodies have run; their ends are recorded right after. One not yet recorded when the process
        # stops is run again by the next launch's recovery, as any workflow whose end is not recorded.
        wait_until(lambda: {s.workflow_id: s.status for s in DBOS.list_workflows(workflow_ids=ids)}
                   == dict.fromkeys(ids, "SUCCESS"), what="the three workflows' ends")
    finally:
        DBOS.destroy()
    assert kafka.committed(group, topic)[0] < 0  # nothing committed: the broker gives them again
    monkeypatch.undo()
    DBOS(config=config)
    DBOS.launch()
    try:
        wait_until(lambda: kafka.committed(group, topic) == [3], what="the messages given again")
        assert _count(topic) == 3
        assert sorted(m.offset or 0 for m in seen[topic]) == [0, 1, 2]
    finally:
        DBOS.destroy()


@DBOS.workflow()
def in_partition_order(msg: KafkaMessage) -> None:
    key = (str(msg.topic), msg.partition)
    with _order_lock:
        running[key] += 1
        overlap[key] = max(overlap[key], running[key])
    if msg.offset == 0 and msg.partition == 0:
        # Partitions run in parallel: the first of partition 0 waits for partition 1 to start.
        started_in_1[str(msg.topic)].wait(20)
    with _order_lock:
        running[key] -= 1
    _note(msg)
    if msg.partition == 1:
        started_in_1[str(msg.topic)].set()


_order_lock = threading.Lock()
running: dict[tuple[str, int | None], int] = defaultdict(int)
overlap: dict[tuple[str, int | None], int] = defaultdict(int)
started_in_1: dict[str, threading.Event] = defaultdict(threading.Event)


def test_ordering_by_partition_keeps_each_partitions_order_and_runs_partitions_in_parallel(
        dbos: type[DBOS], kafka: Broker) -> None:
    topic = kafka.topic(partitions=2)
    for partition in (0, 1):
        kafka.produce(topic, [(b"k", f"{partition}-{i}".encode()) for i in range(5)], partition=partition)
    DBOS.kafka_consumer(_config(kafka, f"g-{uuid.uuid4().hex[:8]}"), [topic], ordering="partition",
                        batch_size=3)(in_partition_order)
    wait_until(lambda: _count(topic) >= 10, what="ten messages")
    for partition in (0, 1):
        offsets = [m.offset for m in seen[topic] if m.partition == partition]
        assert offsets == [0, 1, 2, 3, 4], f"partition {partition} ran out of order: {offsets}"
        assert overlap[(topic, partition)] == 1  # one workflow at a time per partition
    assert started_in_1[topic].is_set()
    assert seen[topic][0].partition == 1  # partition 0's first waited for partition 1: they ran side by side


def test_a_consumer_without_a_group_gets_one_made_from_its_name_and_topics(dbos: type[DBOS],
                                                                           kafka: Broker) -> None:
    """As in DBOS, also: offsets are stored only by Tether, once the workflow is durable, and committed by
    auto-commit, whatever the configuration says."""
    topics = [kafka.topic(), kafka.topic()]
    for topic in topics:
        kafka.produce(topic, [(b"k", b"v")])
    config = _config(kafka, **{"enable.auto.commit": "false", "enable.auto.offset.store": True})
    DBOS.kafka_consumer(config, topics)(on_message)
    assert config["enable.auto.commit"] == "false"  # the caller's dict is left as it was
    wait_until(lambda: all(_count(t) >= 1 for t in topics), what="a message of each topic")
    (consumer,) = engine.declared()
    assert consumer.group_id == "-".join(["dbos-kafka-group-onmessage", *topics])
    assert consumer.config["enable.auto.offset.store"] is False
    assert consumer.config["enable.auto.commit"] is True


@pytest.mark.parametrize("declaration", [
    {"ordering": "by-key"},
    {"batch_size": 0},
    {"batch_size": 2.5},
    {"queue_name": "mine", "ordering": "topic"},
    {"topics": []},
    {"topics": "a-topic-not-in-a-list"},
], ids=["ordering", "batch-size-zero", "batch-size-float", "queue-with-ordering", "no-topics", "topics-str"])
def test_a_bad_declaration_is_refused_and_declares_nothing(dbos: type[DBOS], kafka: Broker,
                                                           declaration: dict[str, Any]) -> None:
    declaration = dict(declaration)  # the same parameters serve both backends
    topics = declaration.pop("topics", [kafka.topic()])
    with pytest.raises(DBOSInitializationError):
        DBOS.kafka_consumer(_config(kafka, "g"), topics, **declaration)(on_message)
    assert engine.declared() == []


def test_a_second_consumer_of_a_topic_in_the_same_group_is_refused(dbos: type[DBOS], kafka: Broker) -> None:
    topic = kafka.topic()
    DBOS.kafka_consumer(_config(kafka, "shared"), [topic])(on_message)
    with pytest.raises(DBOSInitializationError, match=r"share group\.id shared"):
        DBOS.kafka_consumer(_config(kafka, "shared"), [topic, kafka.topic()])(on_message_async)
    assert [c.func_name for c in engine.declared()] == ["on_message"]


def test_a_partitioned_queue_of_its_own_is_refused(dbos: type[DBOS], kafka: Broker) -> None:
    queue = Queue(f"kq-{uuid.uuid4().hex[:8]}", partition_concurrency=1)
    with pytest.raises(DBOSInitializationError, match="partitioned"):
        DBOS.kafka_consumer(_config(kafka, "g"), [kafka.topic()], queue_name=queue.name)(on_message)
    assert engine.declared() == []


def test_a_queue_of_its_own_runs_the_workflows(dbos: type[DBOS], kafka: Broker) -> None:
    queue = Queue(f"kq-{uuid.uuid4().hex[:8]}", concurrency=1)
    topic = kafka.topic()
    kafka.produce(topic, [(b"k", b"v0"), (b"k", b"v1")])
    DBOS.kafka_consumer(_config(kafka, f"g-{uuid.uuid4().hex[:8]}"), [topic], queue_name=queue.name)(on_message)
    wait_until(lambda: _count(topic) >= 2, what="two messages")
    queued = DBOS.list_workflows(queue_name=queue.name)
    assert sorted(s.workflow_id.rsplit("-", 1)[1] for s in queued) == ["0", "1"]


def test_kafka_queue_polling_interval_sec_sets_the_internal_queues_interval(db_url: str, kafka: Broker) -> None:
    from tether.engine.queues import registered_queue

    DBOS.kafka_consumer(_config(kafka, "g"), [kafka.topic()])(on_message)  # before launch
    DBOS(config=make_config(db_url, kafka_queue_polling_interval_sec=0.25))
    DBOS.launch()
    try:
        DBOS.kafka_consumer(_config(kafka, "g2"), [kafka.topic()], ordering="topic")(on_message)  # after
        assert [registered_queue(q).polling_interval_ms  # type: ignore[union-attr]
                for q in (engine.KAFKA_QUEUE, engine.KAFKA_ORDERED_QUEUE)] == [250, 250]
        assert registered_queue(engine.KAFKA_ORDERED_QUEUE).partition_concurrency == 1  # type: ignore[union-attr]
    finally:
        DBOS.destroy()


@pytest.mark.parametrize("value", [0, -1.0, "fast", True, float("inf")])
def test_a_bad_kafka_queue_polling_interval_is_refused(db_url: str, value: Any) -> None:
    from tether.errors import ConfigError

    with pytest.raises(ConfigError, match="kafka_queue_polling_interval_sec"):
        DBOS(config=make_config(db_url, kafka_queue_polling_interval_sec=value))
