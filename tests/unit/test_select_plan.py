"""The pure part of DBOS.select: checking and normalizing its sources (no database), and its result type."""

from __future__ import annotations

import enum
import json

import pytest

from tether import ArgumentTypeError, InvalidArgumentError, Selected, on_completion, on_event, on_message
from tether.engine.select import MAX_SOURCES, plan
from tether.storage.base import NULL_TOPIC


class Topic(str, enum.Enum):
    APPROVE = "approve"


class Handle:
    workflow_id = "child-1"


def test_plan_orders_topics_and_other_sources_by_list_position() -> None:
    p = plan([on_event("w", "k"), on_message(Topic.APPROVE), on_completion(Handle()), on_message(None)], "me")
    assert p.topics == ("approve", NULL_TOPIC)
    assert p.topic_index == (1, 3)
    assert [i for i, _ in p.others] == [0, 2]
    assert p.described == ({"kind": "event", "workflow_id": "w", "key": "k"},
                           {"kind": "message", "topic": "approve"},
                           {"kind": "completion", "workflow_id": "child-1"},
                           {"kind": "message", "topic": None})
    assert [json.loads(h)["index"] for h in p.headers] == [1, 3]


@pytest.mark.parametrize(("sources", "error"), [
    ([], InvalidArgumentError),
    ([on_message("a")] * 2, InvalidArgumentError),
    ([on_message("a"), on_message(Topic.APPROVE), on_message("approve")], InvalidArgumentError),
    ([on_event("w", "k"), on_event("w", "k")], InvalidArgumentError),
    ([on_completion("w"), on_completion("w")], InvalidArgumentError),
    ([on_completion("me")], InvalidArgumentError),
    ([on_message("a\x00b")], InvalidArgumentError),
    ([on_completion("")], InvalidArgumentError),
    ([on_message("x")] + [on_message(str(i)) for i in range(MAX_SOURCES)], InvalidArgumentError),
    ("a", ArgumentTypeError),
    (on_message("a"), ArgumentTypeError),
    (["a"], ArgumentTypeError),
    ([on_message(1)], ArgumentTypeError),  # type: ignore[arg-type]
    ([on_event("w", 2)], ArgumentTypeError),  # type: ignore[arg-type]
    ([on_completion(3)], ArgumentTypeError),
])
def test_bad_sources_are_refused(sources: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        plan(sources, "me")


def test_the_same_key_of_two_workflows_and_a_topic_named_like_a_key_are_distinct() -> None:
    p = plan([on_event("w1", "k"), on_event("w2", "k"), on_message("k"), on_completion("w1")], "me")
    assert len(p.described) == 4


def test_selected_result_returns_the_value_or_raises_the_error() -> None:
    ok = Selected(0, on_completion("w"), "v", "SUCCESS")
    assert ok.result() == "v" and ok.kind == "completion"
    failed = Selected(0, on_completion("w"), None, "ERROR", ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        failed.result()
    assert Selected(1, on_message("a"), 3).kind == "message"
