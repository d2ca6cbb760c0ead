"""Application versions: registering this process's version at launch, listing them, and choosing the latest.

The registry lives in the system database (storage/versionstore.py). Recovery and queues run a workflow only
in processes of its ``application_version``; which version is the *latest* decides whose queue settings
``update_if_latest_version`` keeps, as in DBOS 3.4 (scheduled runs take the firing process's version, where
DBOS sends them to the latest).
"""

from __future__ import annotations

from tether.engine.runtime import Runtime, logger
from tether.storage.base import VersionRow
from tether.types import VersionInfo


def to_info(row: VersionRow) -> VersionInfo:
    return VersionInfo(version_id=row.version_id, version_name=row.version_name,
                       version_timestamp=row.version_timestamp, created_at=row.created_at,
                       application_name=row.application_name)


def register_at_launch(rt: Runtime) -> None:
    """Register this process's version for its application, and say so when it is not the latest or when
    another application registered the same version name first (version names are global)."""
    version, app = rt.application_version, rt.settings.name
    if not version:
        return
    owner = rt.store.register_version(version, app, rt.clock.now_ms())
    if owner is not None and owner != app:
        logger.warning("Application version %r belongs to application %r; give %r a distinct "
                       "application_version to tell its deployments apart", version, owner, app)
        return
    latest = rt.store.list_versions(app)
    if latest and latest[0].version_name != version:
        logger.warning("Current version %r is not the latest version; the latest is %r", version,
                       latest[0].version_name)


async def list_versions(rt: Runtime, application_name: str | None) -> list[VersionInfo]:
    """The versions ``application_name`` sees (its own and the unclaimed ones; every one when None), latest
    first."""
    return [to_info(r) for r in await rt.io(rt.store.list_versions, application_name)]


async def promote(rt: Runtime, version_name: str, application_name: str | None) -> None:
    """Make ``version_name`` the latest version.

    Raises:
        InvalidArgumentError: no version has this name, or another application owns it.
    """
    await rt.io(rt.store.promote_version, version_name, application_name, rt.clock.now_ms())
