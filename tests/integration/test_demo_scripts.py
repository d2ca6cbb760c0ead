"""The demo's shell scripts (examples/demo/commands_*.sh) against a live ``tether demo`` server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "examples" / "demo"
STEPS = 3


def tether_command() -> list[str]:
    found = shutil.which("tether")
    return [found] if found else [sys.executable, "-m", "tether.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tether demo`` in a subprocess, on a fresh SQLite file, with small Fibonacci numbers."""
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    server = subprocess.Popen(
        [*tether_command(), "demo", "--port", str(port), "--db", f"sqlite:///{workdir / 'demo.sqlite'}",
         "--fib-base", "5"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:  # uvicorn logs this once the socket listens
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail(f"tether demo exited with {server.wait()}")
        # Keep reading its log so that a full pipe never blocks the server.
        threading.Thread(target=server.stderr.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_script(name: str, base_url: str, **env: str) -> str:
    done = subprocess.run(["bash", str(SCRIPTS / name)], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TETHER_DEMO_URL": base_url, "STEPS": str(STEPS), **env})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "❌" not in done.stdout
    return done.stdout


def test_events_script(demo_url: str) -> None:
    out = run_script("commands_events.sh", demo_url)
    assert "✅ Server is running" in out and "✅ EVENTS DEMO COMPLETED" in out
    assert f'"value":{{"total_steps":{STEPS},"total_fibonacci":{5 + 8 + 13}}}' in out
    assert out.count("   ✔ ") == 6


def test_messaging_script(demo_url: str) -> None:
    out = run_script("commands_messaging.sh", demo_url)
    assert "✅ MESSAGING DEMO COMPLETED" in out
    assert '"output":{"status":"completed","message":"Approved by test script"' in out
    assert '"output":{"status":"rejected","reason":"Not approved"' in out
    ids = re.findall(r"\b((?:approve|reject|waiting)-\d+-\d+-\d+)\b", out)
    assert len(set(ids)) == 3  # a unique workflow ID for each flow


def test_streaming_script(demo_url: str) -> None:
    out = run_script("commands_streaming.sh", demo_url)
    assert "✅ STREAMING DEMO COMPLETED" in out
    assert [int(i) for i in re.findall(r"^id: (\d+)$", out, re.M)] == list(range(2 * STEPS + 2))
    assert f'"total_messages":{2 * STEPS + 2}' in out and "event: end" in out


def test_scripts_use_unique_ids_on_every_run(demo_url: str) -> None:
    first = re.search(r"Workflow ID: (\S+)", run_script("commands_events.sh", demo_url))
    second = re.search(r"Workflow ID: (\S+)", run_script("commands_events.sh", demo_url))
    assert first and second and first.group(1) != second.group(1)


def test_scripts_report_a_server_that_is_down() -> None:
    done = subprocess.run(["bash", str(SCRIPTS / "commands_events.sh")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "TETHER_DEMO_URL": f"http://127.0.0.1:{free_port()}"})
    assert done.returncode == 1 and "❌ The server is not running" in done.stdout
