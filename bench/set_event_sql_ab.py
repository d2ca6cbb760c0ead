"""PostgreSQL's server-side cost of the set_event statement in two source trees.

    python bench/set_event_sql_ab.py A_SRC B_SRC

Each tree's own ``set_event_recorded`` (from its ``queries.sql``), on a database migrated by that tree, runs
3,000 times in one PL/pgSQL loop (plan cached; no client round trip and no commit, which both trees pay
alike), in turns for 8 rounds; prints microseconds per statement per round, and their median.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import uuid

import psycopg

N, ROUNDS = 3000, 8
SRC = {"before": sys.argv[1], "after": sys.argv[2]}
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def statement(side: str) -> str:
    with open(f"{SRC[side]}/tether/storage/postgres/queries.sql") as f:
        text = f.read()
    found = re.search(r"-- name: set_event_recorded\n(.*?)\n\n-- name:", text, re.S)
    assert found is not None, "no set_event_recorded statement"
    body = found.group(1)
    body = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--"))
    for name, expr in (("workflow_uuid", "wf"), ("function_id", "i"), ("function_name", "'DBOS.setEvent'"),
                       ("now", "i::bigint"), ("history_fid", "i"), ("key", "('k' || (i % 4))"),
                       ("value", "convert_to('P' || i, 'UTF8')")):
        body = body.replace(f":{name}", expr)
    return body


dbs: dict[str, str] = {}
for side in ("before", "after"):
    db = f"evab_srv_{side}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    subprocess.run([sys.executable, "-c", "import sys; from tether.config import parse_database_url; "
                    "from tether.storage import open_store; open_store(parse_database_url(sys.argv[1])).close()", url],
                   env={"PYTHONPATH": SRC[side], "PATH": "/usr/bin:/bin"}, check=True)
    dbs[side] = url
results: dict[str, list[float]] = {"before": [], "after": []}
try:
    for _ in range(ROUNDS):
        for side in ("before", "after"):
            with psycopg.connect(dbs[side], autocommit=True) as c:
                c.execute("SET search_path TO tether")
                wf = uuid.uuid4().hex
                c.execute("INSERT INTO workflow_status (workflow_uuid, status, name, created_at, updated_at) "
                          "VALUES (%s, 'PENDING', 'f', 1, 1)", (wf,))
                notices: list[str] = []
                c.add_notice_handler(lambda d, seen=notices: seen.append(str(d.message_primary)))
                c.execute(f"""DO $$ DECLARE i int; wf text := '{wf}'; t0 timestamptz; BEGIN
                    t0 := clock_timestamp();
                    FOR i IN 1..{N} LOOP {statement(side)}; END LOOP;
                    RAISE NOTICE '%', extract(epoch from clock_timestamp() - t0); END $$""")
                results[side].append(float(notices[-1]) / N * 1e6)
    for side, us in results.items():
        print(side, "per-round us/statement:", [round(x, 1) for x in us], "median", round(statistics.median(us), 1))
finally:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        for url in dbs.values():
            c.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
