"""``tether serve`` and ``tether demo`` through the entry point: a token unless on loopback or told
``--insecure``, a banner naming the database and the URL, scoped tokens from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tether import DBOS

from .test_cli import finished_add, tether_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(*argv: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, list[str]]]:
    """``tether <argv> --port P`` until uvicorn listens: the base URL and the lines printed before that."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("TETHER_TOKEN", "TETHER_TOKENS")}
    server = subprocess.Popen([*tether_command(), *argv, "--port", str(port)], env={**environ, **(env or {})},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        printed = []
        for line in server.stdout:
            if "Uvicorn running on" in line:
                break
            printed.append(line.rstrip("\n"))
        else:
            pytest.fail(f"exited with {server.wait()}: {printed}")
        yield f"http://127.0.0.1:{port}", printed
    finally:
        server.terminate()
        server.wait(timeout=30)


def refused(*argv: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("TETHER_TOKEN", "TETHER_TOKENS")}
    return subprocess.run([*tether_command(), *argv, "--port", str(free_port())], env=environ,
                          capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_public_address_without_a_token(db_url: str) -> None:
    for command in ("serve", "demo"):
        done = refused(command, "--db", db_url, "--host", "0.0.0.0")
        assert done.returncode == 2, done
        assert "--insecure" in done.stderr and "Traceback" not in done.stderr
    bad = refused("serve", "--db", db_url, "--token", "ci:raed=x")
    assert bad.returncode == 2 and "unknown scope 'raed'" in bad.stderr


def test_serve_on_loopback_without_a_token_warns_and_names_database_and_url(dbos: type[DBOS], db_url: str,
                                                                           backend: str) -> None:
    w = finished_add(1, 2)
    with serving("serve", "--db", db_url) as (base, printed):
        text = "\n".join(printed)
        assert f"tether serve on {base} (database" in text
        assert "warning: no token" in text
        shown = db_url if backend == "sqlite" else db_url.split("@")[-1]
        assert shown in text
        assert httpx.get(f"{base}/workflows/{w}").json()["output"] == 3
        rebound = httpx.get(f"{base}/workflows/{w}", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400
        cross = httpx.post(f"{base}/workflows/{w}/cancel", headers={"Origin": "http://attacker.example"})
        assert cross.status_code == 403


def test_serve_with_scoped_tokens_from_the_environment(dbos: type[DBOS], db_url: str) -> None:
    w = finished_add(20, 22)
    env = {"TETHER_TOKENS": "dash:read=r3ad ops:admin=adm1n"}
    with serving("serve", "--db", db_url, env=env) as (base, printed):
        text = "\n".join(printed)
        assert "tokens: dash (read), ops (admin)" in text and "r3ad" not in text and "adm1n" not in text
        assert httpx.get(f"{base}/workflows/{w}").status_code == 401
        reader = {"Authorization": "Bearer r3ad"}
        assert httpx.get(f"{base}/workflows/{w}", headers=reader).json()["output"] == 42
        assert httpx.post(f"{base}/workflows/{w}/cancel", headers=reader).status_code == 403
        assert httpx.post(f"{base}/workflows/{w}/cancel", headers={"Authorization": "Bearer adm1n"}
                          ).status_code == 200


def test_insecure_on_a_public_address_is_served_with_a_warning(dbos: type[DBOS], db_url: str) -> None:
    w = finished_add(2, 3)
    with serving("serve", "--db", db_url, "--host", "0.0.0.0", "--insecure") as (base, printed):
        assert "warning: --insecure" in "\n".join(printed)
        assert httpx.get(f"{base}/workflows/{w}").json()["output"] == 5


def test_demo_on_a_busy_port_fails_before_it_launches(tmp_path: Path) -> None:
    """A second ``tether demo`` on a taken port says so in one line and exits 2 without opening its database:
    launching first would recover (and run) the workflows of the demo already serving there."""
    database = tmp_path / "second.sqlite"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for command in ("demo", "serve"):
            done = subprocess.run([*tether_command(), command, "--db", f"sqlite:///{database}", "--port", str(port)],
                                  capture_output=True, text=True, timeout=60, cwd=tmp_path)
            assert done.returncode == 2, done
            assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
            if command == "demo":
                assert not database.exists(), "the demo opened its database before binding its port"
