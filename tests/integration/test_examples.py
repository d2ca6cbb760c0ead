"""The seeds' examples in examples/ run as real programs on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_checkout_example(db_url: str, tmp_path: Path) -> None:
    out = _run([str(EXAMPLES / "checkout.py"), db_url], tmp_path)
    assert "payment id: pay-order-" in out
    assert "paid with pay-order-" in out


def test_stream_example(db_url: str, tmp_path: Path) -> None:
    out = _run([str(EXAMPLES / "stream_producer_consumer.py"), db_url], tmp_path)
    assert "Received: {'step': 5, 'data': 'value5'}" in out
    assert "values: 5 result: 5" in out


def test_quickstart_runs_with_no_setup(tmp_path: Path) -> None:
    out = _run([str(EXAMPLES / "quickstart.py"), "0.05"], tmp_path, env={"TETHER_DATABASE_URL": ""})
    assert "result: receipt-1001" in out
    assert (tmp_path / "quickstart.sqlite").exists()
