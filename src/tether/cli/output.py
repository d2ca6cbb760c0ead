"""What the CLI prints: aligned tables for people, one JSON document (``--json``) for scripts."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from tether.http.encoding import NotJSONError, dumps, to_json_or_marker

MAX_CELL = 60


def cell(value: Any) -> str:
    """A value as one table cell: strings as they are, everything else as JSON, cut to a readable width."""
    if value is None:
        text = "-"
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = dumps(value)
        except NotJSONError:
            text = repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def when(epoch_ms: int | None) -> str:
    """An epoch-milliseconds timestamp as UTC ``YYYY-MM-DD HH:MM:SS``."""
    if not epoch_ms:
        return "-"
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows under headers, columns padded to their widest cell."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in texts]
    return "\n".join(lines)


class Output:
    """Where results and errors go; ``as_json`` selects machine-readable output."""

    def __init__(self, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def json(self, data: Any) -> None:
        print(json.dumps(to_json_or_marker(data), indent=2, sort_keys=False), file=self.out)

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def json_line(self, data: Any) -> None:
        print(dumps(to_json_or_marker(data)), file=self.out, flush=True)

    def error(self, code: str, detail: str) -> None:
        """One line on stderr (a driver's multi-line message is joined); with --json also a document."""
        detail = " ".join(detail.split())
        if self.as_json:
            self.json({"error": code, "detail": detail})
        print(f"tether: error: {detail}", file=self.err)

    def interrupted(self) -> None:
        """Ctrl-C: one line; whatever was running is left for recovery."""
        print("tether: interrupted", file=self.err)

    def reader_gone(self) -> None:
        """stdout's reader stopped reading (``| head``): point stdout at /dev/null, so the interpreter's final
        flush does not fail again, and say nothing more."""
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.out.fileno())
        except (OSError, ValueError):  # not a real file (tests capture into a buffer)
            pass
        finally:
            os.close(devnull)
