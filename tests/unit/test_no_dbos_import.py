"""The real ``dbos`` package is a test dependency (the dev extra) only to create the database that
tests/dbosimport imports: Tether never imports it, and no test does, except the DBOS application that
tests/dbosimport runs in a subprocess under IMPORT_TEST_IMPL=dbos."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_IMPORT = re.compile(r"^\s*(import dbos\b|from dbos\b)", re.MULTILINE)


def test_no_source_or_test_file_imports_dbos() -> None:
    found = [str(p.relative_to(ROOT)) for folder in ("src", "tests", "examples")
             for p in (ROOT / folder).rglob("*.py") if _IMPORT.search(p.read_text())]
    assert found == []


def test_importing_tether_and_its_command_loads_no_dbos() -> None:
    code = ("import sys, tether, tether.cli, tether.engine.dbos_import; "
            "bad = sorted(m for m in sys.modules if m == 'dbos' or m.startswith('dbos.')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
