"""Put on PYTHONPATH by tests/tracing/test_without_opentelemetry.py: makes every module whose name starts with
``$TETHER_BLOCK_IMPORTS`` (default ``opentelemetry``) fail to import, as if it were not installed."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

_BLOCKED = os.environ.get("TETHER_BLOCK_IMPORTS", "opentelemetry")


class _Blocker:
    @staticmethod
    def find_spec(name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        if name == _BLOCKED or name.startswith(_BLOCKED + "."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
