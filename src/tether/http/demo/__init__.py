"""The demo: events, messaging and streaming workflows behind a FastAPI server (``tether demo``)."""

from tether.http.demo.app import create_demo_app
from tether.http.demo.workflows import NOTIFICATION_TOPIC, STREAM_KEY, WorkflowEvent

__all__ = ["NOTIFICATION_TOPIC", "STREAM_KEY", "WorkflowEvent", "create_demo_app"]
