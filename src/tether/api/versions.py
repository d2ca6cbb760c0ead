"""The registry of application versions on ``DBOS`` and ``DBOSClient``, with DBOS 3.4's API.

Every launch registers its ``application_version`` for its application. The latest version (the newest
``version_timestamp``) is the one an application's ``update_if_latest_version`` queue settings follow;
``set_latest_application_version`` promotes an older one back, as a rollback does::

    DBOS.set_latest_application_version("v41")
    assert DBOS.get_latest_application_version()["version_name"] == "v41"
"""

from __future__ import annotations

from tether.api.binding import _application_of, _either, _runtime_of
from tether.engine import validation
from tether.engine import versions as ops
from tether.engine.bridge import run_sync
from tether.errors import DBOSException
from tether.types import VersionInfo


class VersionManagement:
    """Version methods shared by ``DBOS`` and ``DBOSClient``; each has a ``*_async`` twin."""

    @_either
    async def list_application_versions_async(self) -> list[VersionInfo]:
        """Coroutine form of :meth:`list_application_versions`."""
        return await ops.list_versions(_runtime_of(self), _application_of(self))

    @_either
    def list_application_versions(self) -> list[VersionInfo]:
        """The versions of this application and the unclaimed ones (a ``DBOSClient`` of no application: every
        version), latest first.

        Raises:
            NotLaunchedError: DBOS is not launched.
        """
        return run_sync(self.list_application_versions_async())

    @_either
    async def get_latest_application_version_async(self) -> VersionInfo:
        """Coroutine form of :meth:`get_latest_application_version`."""
        found = await ops.list_versions(_runtime_of(self), _application_of(self))
        if not found:
            raise DBOSException("No application versions found")
        return found[0]

    @_either
    def get_latest_application_version(self) -> VersionInfo:
        """This application's latest version.

        Raises:
            DBOSException: no version is registered (a client before any application launched).
            NotLaunchedError: DBOS is not launched.
        """
        return run_sync(self.get_latest_application_version_async())

    @_either
    async def set_latest_application_version_async(self, version_name: str, *,
                                                    application_name: str | None = None) -> None:
        """Coroutine form of :meth:`set_latest_application_version`."""
        validation.text(version_name, "version_name")
        app = validation.optional_text(application_name, "application_name")
        await ops.promote(_runtime_of(self), version_name, app if app is not None else _application_of(self))

    @_either
    def set_latest_application_version(self, version_name: str, *, application_name: str | None = None) -> None:
        """Make ``version_name`` the latest version (its timestamp becomes now), acting for
        ``application_name`` (default: this application); an unclaimed version becomes that application's.

        Raises:
            InvalidArgumentError: no version has this name, or it belongs to another application.
            ArgumentTypeError: ``version_name`` or ``application_name`` is not a string.
            NotLaunchedError: DBOS is not launched.
        """
        run_sync(self.set_latest_application_version_async(version_name, application_name=application_name))
