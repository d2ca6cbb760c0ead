"""Loading named SQL statements (``-- name: foo`` blocks) from a backend's ``queries.sql``."""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    text = resources.files(package).joinpath(filename).read_text()
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for i in range(1, len(parts), 2):
        # Comment lines are dropped: the text between statements belongs to the one before it, and a
        # ``:name`` in a comment would otherwise count as a parameter (PostgreSQL's bind then disagrees).
        body = "\n".join(line for line in parts[i + 1].splitlines() if not line.lstrip().startswith("--"))
        queries[parts[i]] = body.strip().rstrip(";")
    return queries


def load_migrations(package: str) -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` for every ``NNN_name.sql`` in the package's migrations folder."""
    folder = resources.files(package).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        m = re.match(r"^(\d+)_(\w+)\.sql$", entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text()))
    return sorted(found)
