"""The registry of application versions, which both SQL backends share (DBOS 3.4's ``application_versions``).

Every launch registers its ``application_version``, owned by its application; an application's *latest*
version is the one with the newest ``version_timestamp`` among its own and the unclaimed ones (no owner), and
``promote_version`` makes a version the latest. Version names are global: one application cannot register or
promote a version another application owns. Queue registration reads the latest version too
(``update_if_latest_version``, storage/queuestore.py).
"""

from __future__ import annotations

import abc
import uuid
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tether.errors import InvalidArgumentError
from tether.storage.records import VersionRow

if TYPE_CHECKING:
    from tether.storage.session import Session


def insert_version(s: Session, version_name: str, application_name: str | None, now_ms: int) -> None:
    """Register a version if its name is new (in the caller's transaction)."""
    s.run("version_insert", {"version_id": str(uuid.uuid4()), "version_name": version_name, "now": now_ms,
                             "application_name": application_name})


def latest_version(s: Session, application_name: str | None) -> VersionRow | None:
    """An application's latest version (every application's when None), in the caller's transaction."""
    row = s.run("version_list", {"application_name": application_name}).fetchone()
    return _row(row) if row is not None else None


def _row(r: Any) -> VersionRow:
    return VersionRow(version_id=str(r[0]), version_name=str(r[1]), version_timestamp=int(r[2]),
                      created_at=int(r[3]), application_name=r[4])


class VersionStore(abc.ABC):
    """Mixed into ``SqlStore``."""

    @abc.abstractmethod
    def _tx(self) -> AbstractContextManager[Session]: ...

    @abc.abstractmethod
    def _auto(self) -> AbstractContextManager[Session]: ...

    def register_version(self, version_name: str, application_name: str | None, now_ms: int) -> str | None:
        """Register ``version_name`` for ``application_name`` (claiming it if it is unclaimed). Returns the
        version's owner, which is another application's name when that application registered it first."""
        with self._tx() as s:
            if application_name is not None:
                s.run("version_claim", {"version_name": version_name, "application_name": application_name})
            insert_version(s, version_name, application_name, now_ms)
            row = s.run("version_get", {"version_name": version_name}).fetchone()
        return None if row is None else row[4]

    def list_versions(self, application_name: str | None) -> list[VersionRow]:
        """The versions ``application_name`` sees (every version when None), latest first."""
        with self._auto() as s:
            return [_row(r) for r in s.run("version_list", {"application_name": application_name}).fetchall()]

    def promote_version(self, version_name: str, application_name: str | None, now_ms: int) -> None:
        """Make a version the latest (its timestamp now, or just after the newest one's), claiming it for
        ``application_name`` if it is unclaimed.

        Raises:
            InvalidArgumentError: no version has this name, or it belongs to another application.
        """
        with self._tx() as s:
            row = s.run("version_get", {"version_name": version_name}).fetchone()
            if row is None:
                raise InvalidArgumentError("version_name", f"no application version is named {version_name!r}")
            owner = row[4]
            if owner is not None and application_name is not None and owner != application_name:
                raise InvalidArgumentError("version_name", f"application version {version_name!r} belongs to "
                                                           f"application {owner!r}, not {application_name!r}")
            newest = s.run("version_newest_timestamp", {}).fetchone()[0]
            s.run("version_promote", {"version_name": version_name, "application_name": owner or application_name,
                                      "now": max(now_ms, int(newest) + 1 if newest is not None else now_ms)})
