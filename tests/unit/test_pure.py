"""Pure pieces tested without a database: retry backoff, serialization, the wake-up hub, URL parsing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.config import parse_database_url
from tether.engine.registry import StepPolicy
from tether.engine.waiters import WakeupHub
from tether.errors import ConfigError, SerializationError
from tether.serialization import deserialize, is_portable, serialize
from tether.types import WorkflowSerializationFormat

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_portable_round_trip(value: Any) -> None:
    data = serialize(value, WorkflowSerializationFormat.PORTABLE)
    assert is_portable(data)
    assert deserialize(data) == value


@given(json_values | st.tuples(st.integers(), st.text()) | st.sets(st.integers()))
def test_pickle_round_trip(value: Any) -> None:
    data = serialize(value)
    assert not is_portable(data)
    assert deserialize(data) == value


def test_unserializable_values() -> None:
    with pytest.raises(SerializationError):
        serialize(threading.Lock())
    with pytest.raises(SerializationError):
        serialize({"x": object()}, WorkflowSerializationFormat.PORTABLE)
    with pytest.raises(SerializationError):
        serialize({1: "non-string key"}, WorkflowSerializationFormat.PORTABLE)
    # as in DBOS's portable JSON, a set becomes a list rather than an error
    assert deserialize(serialize({1, 2}, WorkflowSerializationFormat.PORTABLE)) == [1, 2]
    with pytest.raises(SerializationError):
        deserialize(b"Xgarbage")


@given(st.floats(min_value=0.001, max_value=10), st.floats(min_value=1, max_value=4), st.integers(1, 8))
def test_backoff_grows_geometrically(interval: float, rate: float, attempt: int) -> None:
    policy = StepPolicy("s", retries_allowed=True, interval_seconds=interval, max_attempts=9, backoff_rate=rate)
    assert policy.delay(1) == pytest.approx(interval)
    assert policy.delay(attempt + 1) == pytest.approx(policy.delay(attempt) * rate)


def test_attempts_without_retries_is_one() -> None:
    assert StepPolicy("s", retries_allowed=False, max_attempts=5).attempts() == 1
    assert StepPolicy("s", retries_allowed=True, max_attempts=5).attempts() == 5


def test_hub_wakes_only_the_notified_key() -> None:
    hub = WakeupHub()

    async def main() -> tuple[bool, bool, bool]:
        a = hub.register([("msg", "w1", "t")])
        b = hub.register([("msg", "w2", "t")])
        c = hub.register([("event", "w1", "k"), ("wf", "w1", "ignored")])
        hub.notify("msg", "w1", "t")
        hub.notify("wf", "w1", "SUCCESS")  # wf keys are ignored: any status change wakes
        woke_a = await hub.wait(a, 1)
        woke_b = await hub.wait(b, 0.05)
        woke_c = await hub.wait(c, 1)
        for w in (a, b, c):
            hub.unregister(w)
        return woke_a, woke_b, woke_c

    assert asyncio.run(main()) == (True, False, True)
    assert hub.count() == 0


def test_hub_taps_see_every_notification_until_removed() -> None:
    """A tap (the dashboard's watcher) hears every notification, waiters or not; a bound method given to
    add_tap is removed by an equal bound method (each attribute access makes a new one)."""

    class Watcher:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str, str]] = []

        def tap(self, kind: str, workflow_id: str, key: str) -> None:
            self.seen.append((kind, workflow_id, key))

    hub, watcher = WakeupHub(), Watcher()
    hub.add_tap(watcher.tap)
    hub.notify("wf", "w1", "SUCCESS")
    hub.notify("event", "w2", "progress")
    hub.remove_tap(watcher.tap)
    hub.notify("wf", "w3", "ERROR")
    assert watcher.seen == [("wf", "w1", "SUCCESS"), ("event", "w2", "progress")]


def test_hub_wildcard_and_cross_thread_wake() -> None:
    hub = WakeupHub()

    async def main() -> bool:
        w = hub.register([("stream", "w", "some-long-key")])
        threading.Thread(target=hub.notify, args=("stream", "w", "*")).start()
        woke = await hub.wait(w, 2)
        hub.unregister(w)
        return woke

    assert asyncio.run(main())


@pytest.mark.parametrize(("url", "backend", "target"), [
    ("sqlite:///app.sqlite", "sqlite", "app.sqlite"),
    ("sqlite:////tmp/app.sqlite", "sqlite", "/tmp/app.sqlite"),
    ("postgresql://u@h:5432/db", "postgres", "postgresql://u@h:5432/db"),
    ("postgres://u@h/db", "postgres", "postgres://u@h/db"),
])
def test_database_urls(url: str, backend: str, target: str) -> None:
    parsed = parse_database_url(url)
    assert (parsed.backend, parsed.url) == (backend, target)


def test_bad_database_url() -> None:
    with pytest.raises(ConfigError):
        parse_database_url("oracle://x")
