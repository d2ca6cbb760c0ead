"""The named statements of both backends: comments never reach the server, and no parameter hides in one."""

from __future__ import annotations

import re

import pytest

from tether.storage.sql import load_queries


@pytest.mark.parametrize("package", ["tether.storage.sqlite", "tether.storage.postgres"])
def test_statements_carry_no_comment_lines(package: str) -> None:
    queries = load_queries(package)
    assert queries
    for name, sql in queries.items():
        assert sql, name
        assert not any(line.lstrip().startswith("--") for line in sql.splitlines()), name
        # a trailing comment with a :parameter in it would be counted as a parameter
        assert not re.search(r"--[^\n]*:\w", sql), name
