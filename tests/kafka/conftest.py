"""A Kafka broker for the tests of ``@DBOS.kafka_consumer``: one per test process (xdist worker), in a process
of its own (tests/kafka/broker.py), or the real broker that ``TETHER_KAFKA_BOOTSTRAP`` names. Without
confluent-kafka the tests are skipped with the reason shown, except under CI=true, where that is an error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]


class Broker:
    """The broker the tests talk to, over Kafka's protocol."""

    def __init__(self, bootstrap: str, process: subprocess.Popen[str] | None) -> None:
        self.bootstrap = bootstrap
        self._process = process

    def topic(self, partitions: int = 1) -> str:
        """A new topic of ``partitions`` partitions, for one test."""
        name = f"t-{uuid.uuid4().hex[:12]}"
        if self._process is not None:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.write(f"topic {name} {partitions}\n")
            self._process.stdin.flush()
            answer = self._process.stdout.readline().strip()
            assert answer == "ok", f"the broker could not create topic {name}: {answer}"
        else:
            from confluent_kafka.admin import AdminClient, NewTopic

            admin = AdminClient({"bootstrap.servers": self.bootstrap})
            for future in admin.create_topics([NewTopic(name, num_partitions=partitions)]).values():
                future.result(30)
        return name

    def produce(self, topic: str, messages: list[tuple[bytes, bytes]], *, partition: int | None = None,
                headers: list[tuple[str, bytes]] | None = None) -> None:
        """Write ``(key, value)`` messages to ``topic`` (to ``partition`` if given), and wait until the broker
        has them all."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap})
        for key, value in messages:
            extra: dict[str, Any] = {} if partition is None else {"partition": partition}
            producer.produce(topic, key=key, value=value, headers=headers, **extra)
        assert producer.flush(30) == 0, f"messages to {topic} were not delivered"

    def committed(self, group: str, topic: str, partitions: int = 1) -> list[int]:
        """The offsets ``group`` has committed on each partition of ``topic`` (negative: none)."""
        from confluent_kafka import Consumer, TopicPartition

        reader = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            found = reader.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
            return [tp.offset for tp in found]
        finally:
            reader.close()


@pytest.fixture(scope="session")
def kafka() -> Iterator[Broker]:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("CI=true requires confluent-kafka (pip install -e '.[dev]')")
        pytest.skip("confluent-kafka is not installed: pip install -e '.[dev]'")
    given = os.environ.get("TETHER_KAFKA_BOOTSTRAP")
    if given:
        yield Broker(given, None)
        return
    process = subprocess.Popen([sys.executable, "-m", "tests.kafka.broker"], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    bootstrap = process.stdout.readline().strip()
    if not bootstrap:
        process.wait(10)
        pytest.fail(f"the test broker did not start (exit status {process.returncode})")
    try:
        yield Broker(bootstrap, process)
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(autouse=True)
def _no_consumer_left() -> Iterator[None]:
    """Each test declares its own consumers; none outlives it."""
    from tether.engine.kafka import stop_consumers

    yield
    stop_consumers(forget=True)


def wait_until(condition: Any, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
