"""A Kafka consumer while its PostgreSQL database is stopped: the messages read meanwhile are enqueued once the
database is back, none is lost, none runs twice, and their offsets reach the broker only then."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

from tests.conftest import make_config
from tests.faults.conftest import PgCluster
from tests.kafka.conftest import Broker, _no_consumer_left, kafka, wait_until
from tether import DBOS, KafkaMessage

__all__ = ["_no_consumer_left", "kafka"]  # the fixtures of tests/kafka, used here too

runs: Counter[int] = Counter()
_lock = threading.Lock()


@DBOS.workflow()
def consume_through_an_outage(msg: KafkaMessage) -> None:
    with _lock:
        runs[msg.offset or 0] += 1


def test_messages_read_while_the_database_is_down_run_once_it_is_back(pg_cluster: PgCluster,
                                                                     kafka: Broker) -> None:
    url = pg_cluster.create_database("tether_kafka_outage")
    topic, group = kafka.topic(), f"g-{uuid.uuid4().hex[:8]}"
    DBOS(config=make_config(url))
    DBOS.launch()
    try:
        DBOS.kafka_consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group,
                             "auto.commit.interval.ms": 100}, [topic])(consume_through_an_outage)
        kafka.produce(topic, [(b"k", b"before")] * 3)
        wait_until(lambda: sum(runs.values()) >= 3, what="the messages written before the outage")
        wait_until(lambda: kafka.committed(group, topic) == [3], what="their offsets")
        pg_cluster.stop()
        try:
            kafka.produce(topic, [(b"k", b"during")] * 5)
            threading.Event().wait(3.0)  # the consumer reads them meanwhile, and cannot enqueue them
            assert kafka.committed(group, topic) == [3]  # nothing is committed before it is durable
        finally:
            pg_cluster.start()
        wait_until(lambda: sum(runs.values()) >= 8, timeout=60, what="the messages written during the outage")
        wait_until(lambda: kafka.committed(group, topic) == [8], what="their offsets")
        threading.Event().wait(0.5)  # time for a second run of any of them, had one been started
        assert runs == Counter(range(8))
        wait_until(lambda: {s.status for s in DBOS.list_workflows(name="consume_through_an_outage")} == {"SUCCESS"},
                   what="every workflow ended")
    finally:
        DBOS.destroy()
