"""Real faults for the fault tests: a PostgreSQL cluster of the test's own (started, restarted and stopped on
a free port; the shared server at 127.0.0.1:5432 is never touched), a SQLite write lock held by another
process, a small full filesystem, a read-only file.

What a machine cannot provide (no PostgreSQL binaries, no permission to mount) skips the test with the
reason shown, except under CI=true, where it is an error: CI must run every fault test.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import IN_CI


def unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true requires this fault test to run: {reason}")
    pytest.skip(reason)


def _pg_bindir() -> Path | None:
    for candidate in ["/usr/lib/postgresql/15/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and Path(found).with_name("initdb").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A throwaway PostgreSQL cluster: ``initdb`` into a temporary directory, ``pg_ctl`` to start, restart and
    stop it. PostgreSQL refuses to run as root, so as root every command runs as the ``postgres`` user."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="tether-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def _options(self) -> str:
        # fsync off: these tests kill the server's connections, not the machine; it keeps start-ups fast.
        return (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "30",
                  "-o", self._options(), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", "fast", "stop")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t", "30", "-m", "fast",
                  "-o", self._options(), "restart")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A running PostgreSQL cluster of this test's own, on a free port; removed afterwards."""
    bindir = _pg_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    assert bindir is not None
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class SmallDisk:
    """A tmpfs of a few megabytes, mounted for one test, that can be filled up and emptied again."""

    def __init__(self, mountpoint: Path) -> None:
        self.path = mountpoint
        self._filler = mountpoint / "filler"

    def fill(self) -> None:
        """Take every free byte (writing until the filesystem says it is full)."""
        chunk = b"\0" * 65536
        with open(self._filler, "ab", buffering=0) as f:
            with contextlib.suppress(OSError):
                while True:
                    f.write(chunk)
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0")

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield SmallDisk(mountpoint)
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)


class Records(logging.Handler):
    """The records the ``tether`` logger emitted during a test (it does not propagate to the root logger,
    so pytest's caplog does not see them)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def tether_log() -> Iterator[Records]:
    records = Records()
    logger = logging.getLogger("tether")
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)
