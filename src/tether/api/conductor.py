"""What DBOS wires to DBOS Conductor, its hosted management service: accepted so that an application written
for DBOS starts unchanged, with nothing behind it (Tether has no Conductor; its dashboard and gateway are in
the open, see docs/gateway.md)."""

from __future__ import annotations

from collections.abc import Callable

from tether.errors import DBOSException

AlertHandler = Callable[[str, str, dict[str, str]], None]


class ConductorHooks:
    """Mixin of ``DBOS``."""

    _alert_handler: AlertHandler | None = None

    @classmethod
    def alert_handler(cls, func: AlertHandler) -> AlertHandler:
        """Register the function DBOS calls with the alerts DBOS Conductor sends (name, message, metadata).
        Accepted, as one handler declared before launch, and never called: alerts come from Conductor.

        Raises:
            DBOSException: DBOS is launched already, or a handler is registered already.
        """
        if getattr(cls, "_runtime", None) is not None:  # DBOS's: set by launch, cleared by destroy
            raise DBOSException("alert_handler must be defined before DBOS is launched")
        if cls._alert_handler is not None:
            raise DBOSException("An alert_handler is already defined. You can only declare one alert_handler.")
        cls._alert_handler = func
        return func
