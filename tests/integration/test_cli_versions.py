"""``tether version list|promote`` and the owner column of ``tether schedule list``, on both backends, against
a database of their own (the registry of versions is shared by everything on a database)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_config
from tether import DBOS, DBOSClient
from tether.cli import main


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_versions_are_listed_and_one_is_rolled_back_to(fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for version in ("v1", "v2"):
        DBOS(config=make_config(fresh_url, application_version=version))
        DBOS.launch()
        DBOS.destroy()
    code, out, _ = _cli(capsys, "version", "list", "--db", fresh_url, "--json")
    assert code == 0 and [(v["version_name"], v["application_name"]) for v in json.loads(out)] == [
        ("v2", "tether-test"), ("v1", "tether-test")]
    code, out, _ = _cli(capsys, "version", "promote", "v1", "--db", fresh_url)
    assert code == 0 and "promoted v1" in out
    code, out, _ = _cli(capsys, "version", "list", "--db", fresh_url)
    assert code == 0 and out.splitlines()[1].split()[0] == "v1"  # the header, then the latest
    code, _, err = _cli(capsys, "version", "promote", "v9", "--db", fresh_url)
    assert code == 1 and "no application version is named 'v9'" in err
    code, _, err = _cli(capsys, "version", "promote", "v1", "--app", "billing", "--db", fresh_url)
    assert code == 1 and "belongs to application 'tether-test'" in err
    code, out, _ = _cli(capsys, "version", "list", "--app", "billing", "--db", fresh_url)
    assert code == 0 and out.strip() == "no application versions"


def test_schedule_list_shows_each_schedules_application(fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with DBOSClient(fresh_url) as client:
        client.create_schedule(schedule_name="mine", workflow_name="w", schedule="0 3 1 1 *",
                               application_name="shop")
        client.create_schedule(schedule_name="shared", workflow_name="w", schedule="0 3 1 1 *")
    code, out, _ = _cli(capsys, "schedule", "list", "--db", fresh_url)
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert code == 0 and "APPLICATION" in out.splitlines()[0]
    assert "shop" in rows["mine"] and "shop" not in rows["shared"]
