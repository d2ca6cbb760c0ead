"""A type checker sees the keyword filters of ``list_workflows_async`` and ``list_queued_workflows(_async)`` (DBOS
3.4's names and types), though those methods take them as ``**filters``: a misspelt or mistyped filter is a
type error in the caller's code, not only a ``TypeError`` at run time. Runs mypy on a small program."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[dev]')")

PROGRAM = textwrap.dedent("""
    from tether import DBOS, DBOSClient

    async def main(client: DBOSClient) -> None:
        await DBOS.list_workflows_async(status="PENDING", limit=10, attributes={"team": "a"})
        DBOS.list_queued_workflows(queue_name=["q"], load_input=False)
        await client.list_queued_workflows_async(name="wf", sort_desc=True)
        await DBOS.list_workflows_async(stauts="PENDING")  # line 8: misspelt
        DBOS.list_queued_workflows(limit="ten")            # line 9: wrong type
        DBOS.list_queued_workflows(schedule_name="s")      # line 10: not a filter of the queued form
""")


def test_misspelt_and_mistyped_filters_are_type_errors(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    out, err, status = mypy_api.run(["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                                     str(program)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, (out, err)
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert lines == [8, 9, 10], out
    assert "stauts" in out and "schedule_name" in out
