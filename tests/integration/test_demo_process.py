"""``tether demo`` as a user runs it: a real process on a free port, stopped with Ctrl-C while SSE clients
are connected, started again; on a PostgreSQL database that does not exist yet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
import psycopg

from ..conftest import PG_ADMIN_URL, _pg_url
from .test_cli import _free_port, tether_command


class Demo:
    """``tether demo`` in a subprocess; its output lines collected as they come."""

    def __init__(self, db: str, cwd: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([*tether_command(), "demo", "--db", db, "--port", str(self.port), *extra],
                                     cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for(self, text: str, count: int = 1) -> None:
        def seen() -> int:
            return sum(text in line for line in self.lines)

        with self._seen:
            self._seen.wait_for(lambda: seen() >= count or self.proc.poll() is not None, timeout=120)
            assert seen() >= count, "".join(self.lines)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=60)
        with self._seen:
            self._seen.wait_for(lambda: self.lines and "resume when tether demo starts again" in self.lines[-1],
                                timeout=30)
        return code


def _follow(url: str, ended: list[str]) -> None:
    try:
        with httpx.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=120) as r:
            for _ in r.iter_lines():
                pass
        ended.append("clean end")
    except httpx.HTTPError as exc:
        ended.append(type(exc).__name__)


def test_ctrl_c_with_sse_clients_exits_cleanly_and_a_restart_says_what_it_resumed(db_url: str,
                                                                                 tmp_path: Path) -> None:
    demo = Demo(db_url, tmp_path, "--fib-base", "5")
    try:
        demo.wait_for("Uvicorn running on")
        w = f"ctrl-c-{uuid.uuid4().hex[:8]}"  # waits for its approval: still running at the Ctrl-C
        assert httpx.post(f"{demo.url}/start-workflow-messaging/{w}/2", timeout=30).status_code == 200
        ended: list[str] = []
        readers = [threading.Thread(target=_follow, args=(f"{demo.url}/workflow-stream/{w}", ended))
                   for _ in range(3)]
        for reader in readers:
            reader.start()
        demo.wait_for(f'"GET /workflow-stream/{w} HTTP/1.1" 200', count=3)
        assert demo.interrupt() == 130
        for reader in readers:
            reader.join(timeout=60)
    finally:
        demo.proc.kill()
    out = "".join(demo.lines)
    assert "Traceback" not in out and "CancelledError" not in out and "ERROR" not in out, out
    assert demo.lines[-1] == "tether: error: stopped; unfinished workflows resume when tether demo starts again\n"
    assert ended == ["clean end"] * 3  # the SSE responses were ended properly, not cut

    again = Demo(db_url, tmp_path, "--fib-base", "5")
    try:
        again.wait_for("Application startup complete")
        assert any(f"Resumed 1 workflow(s) an earlier run left unfinished: {w} "
                   "(tether.demo.workflow_with_messaging)" in line for line in again.lines), again.lines
        assert httpx.post(f"{again.url}/send-message/{w}", json={"approved": True}, timeout=30).status_code == 200
        done = httpx.get(f"{again.url}/api/workflows/{w}/result", params={"timeout": 60}, timeout=90).json()
        assert done["status"] == "SUCCESS" and done["output"]["status"] == "completed"
    finally:
        again.proc.terminate()
        again.proc.wait(timeout=60)


def test_demo_json_banner_and_a_missing_postgres_database(pg_database: str, tmp_path: Path) -> None:
    name = f"tether_demo_{uuid.uuid4().hex[:8]}"
    demo = Demo(_pg_url(name), tmp_path, "--json")
    try:
        demo.wait_for("Uvicorn running on")
        banner = json.loads(demo.lines[0])
        assert banner == {"url": demo.url, "database": _pg_url(name), "dashboard": f"{demo.url}/ui",
                          "api_docs": f"{demo.url}/api/docs"}
        assert httpx.get(f"{demo.url}/health", timeout=30).json()["status"] == "ok"
    finally:
        demo.proc.terminate()
        demo.proc.wait(timeout=60)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
