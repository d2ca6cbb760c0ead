"""What the DBOS program and the Tether program of the import test share: the error class a workflow raises
(pickled by DBOS, unpickled by Tether) and the run log that shows which step bodies ran, in which process."""

from __future__ import annotations

import os
from pathlib import Path


class ImportAppError(Exception):
    """Raised by the failing workflow; carries a code so the unpickled error can be checked field by field."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, code)
        self.code = code


def log_run(what: str) -> None:
    """Append ``what`` and this process's ID to the run log (``IMPORT_RUN_LOG``)."""
    with Path(os.environ["IMPORT_RUN_LOG"]).open("a") as f:
        f.write(f"{what} {os.getpid()}\n")
        f.flush()
        os.fsync(f.fileno())


def runs() -> list[str]:
    """The step bodies that ran, in order (without process IDs)."""
    path = Path(os.environ["IMPORT_RUN_LOG"])
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []
