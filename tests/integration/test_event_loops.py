"""Every event loop the sync bridge creates is closed: none is left for the garbage collector to find (a
``ResourceWarning``, or an unraisable ``Invalid file descriptor`` error at interpreter exit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import gc, threading, sys
from tether import DBOS

@DBOS.step()
def one() -> int:
    return 1

@DBOS.workflow()
def flow() -> int:
    return one() + one()

DBOS(config={"name": "loops", "system_database_url": sys.argv[1], "executor_id": "loops"})
DBOS.launch()
assert flow() == 2  # on the main thread's loop
threads = [threading.Thread(target=lambda: DBOS.start_workflow(flow).get_result()) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
del threads
gc.collect()  # the threads' loops: closed when their threads ended
DBOS.destroy()
print("ok")
"""


def test_no_event_loop_is_left_unclosed(db_url: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-X", "dev", "-W", "always::ResourceWarning", "-c", PROGRAM, db_url],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
    assert "unclosed event loop" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
