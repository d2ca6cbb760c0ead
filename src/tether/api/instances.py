"""Workflows that are methods: ``DBOSConfiguredInstance`` and ``@DBOS.dbos_class()``.

A workflow method's instance (or, for a class method, its class) is never stored with the workflow. The
workflow row records the class's registered name and the instance's ``config_name``; recovery and queues find
the live, registered object by those names and run the method on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tether.engine.registry import register_class, register_instance

T = TypeVar("T")


class DBOSConfiguredInstance:
    """Base class of objects whose methods are workflows. ``config_name`` names this instance among the
    instances of its class; creating the instance registers it under that name (a later instance with the
    same class and name replaces it)."""

    def __init__(self, config_name: str) -> None:
        if not isinstance(config_name, str) or not config_name:
            raise ValueError("config_name must be a non-empty string")
        self.config_name = config_name
        register_instance(self, config_name)


def dbos_class(name: str | None = None) -> Callable[[type[T]], type[T]]:
    """Register a class whose methods are workflows, under ``name`` (default: its qualified name)."""

    def decorate(cls: type[T]) -> type[T]:
        register_class(cls, name)
        return cls

    return decorate
