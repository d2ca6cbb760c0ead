"""The safety net against lost wake-ups, in the statements both SQL backends share: one read for many waiters."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager

from tether.storage.session import Session

_STATEMENTS = {"msg": "recheck_messages", "event": "recheck_events", "stream": "recheck_streams",
               "wf": "recheck_workflows"}


class RecheckStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def recheck_waiters(self, kind: str, wants: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        with self._auto() as s:
            rows = s.run(_STATEMENTS[kind], {"wants": json.dumps(wants, separators=(",", ":"))}).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
