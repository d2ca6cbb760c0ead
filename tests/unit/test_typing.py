"""Decorators keep signatures for type checkers: handles are typed by the workflow's return type."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api

SNIPPET = textwrap.dedent("""
    from tether import DBOS

    @DBOS.workflow()
    def f(x: int) -> str:
        return str(x)

    @DBOS.workflow()
    async def g(x: int) -> float:
        return 1.0

    @DBOS.step()
    def s(a: int, b: str = "") -> bytes:
        return b""

    async def main() -> None:
        reveal_type(DBOS.start_workflow(f, 1).get_result())
        handle = await DBOS.start_workflow_async(g, 1)
        reveal_type(await handle.get_result())
        reveal_type(f)
        reveal_type(s)
        DBOS.start_workflow(f, "not an int")
""")


def test_decorated_functions_keep_their_types(tmp_path: Path) -> None:
    path = tmp_path / "snippet.py"
    path.write_text(SNIPPET)
    out, _, _ = api.run(["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(path)])
    assert 'Revealed type is "str"' in out
    assert 'Revealed type is "float"' in out
    assert 'Revealed type is "def (x: int) -> str"' in out
    assert 'Revealed type is "def (a: int, b: str =) -> bytes"' in out
    assert 'Argument 2 to "start_workflow" of "DBOS" has incompatible type "str"' in out
