"""Without the ``otel`` extra nothing is recorded and nothing breaks: a subprocess in which importing
``opentelemetry`` fails (a meta-path blocker loaded by ``sitecustomize`` from PYTHONPATH) runs workflows, steps,
messages, events, streams, a queue, a client and a request with a ``traceparent`` header through the gateway's
middleware, on both backends. With only
the OTLP exporter missing, OTLP endpoints are a clear configuration error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tether import DBOS, ConfigError
from tether.config import settings_from_config
from tether.engine import tracing

HERE = Path(__file__).parent


def _blocked_env(prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "blocker"), env.get("PYTHONPATH", "")])
    env["TETHER_BLOCK_IMPORTS"] = prefix
    return env


def test_without_opentelemetry_everything_runs_and_nothing_is_recorded(db_url: str) -> None:
    done = subprocess.run([sys.executable, str(HERE / "no_otel_app.py"), db_url], env=_blocked_env("opentelemetry"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ok"


def test_the_blocker_really_blocks() -> None:
    done = subprocess.run([sys.executable, "-c", "import opentelemetry"], env=_blocked_env("opentelemetry"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "blocked by the test" in done.stderr


def test_otlp_endpoints_without_the_exporter_package_are_a_config_error(tmp_path: Path) -> None:
    code = ("from tether import DBOS, ConfigError\n"
            "try:\n"
            f"    DBOS(config={{'name': 'x', 'system_database_url': 'sqlite:///{tmp_path}/x.sqlite',\n"
            "                 'enable_otlp': True, 'otlp_traces_endpoints': ['http://127.0.0.1:4318/v1/traces']})\n"
            "except ConfigError as exc:\n"
            "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], env=_blocked_env("opentelemetry.exporter"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OTLP exporter" in done.stdout and "pip install 'tether[otel]'" in done.stdout
    assert not list(tmp_path.iterdir())  # raised before anything was written


def test_bad_opentelemetry_keys_are_config_errors() -> None:
    for bad in ({"enable_otlp": "yes"}, {"otlp_traces_endpoints": "http://x"}, {"otlp_attributes": {"a": 1}},
                {"otel_attribute_format": "otel"}, {"otlp_log_level": "LOUD"}):
        with pytest.raises(ConfigError):
            DBOS(config={"name": "x", **bad})  # type: ignore[typeddict-item]
    settings = settings_from_config({"name": "x", "enable_otlp": False})
    tracing.check(settings)  # off: nothing is asked for
