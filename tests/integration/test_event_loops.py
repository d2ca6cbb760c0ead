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


FORGETFUL = """
import asyncio, sys, threading
from tether import DBOS

DBOS(config={"name": "forgetful", "system_database_url": sys.argv[1], "executor_id": "forgetful"})
DBOS.launch()

async def waits(seconds: float) -> None:  # a sync call inside async code: it runs on a bridge helper thread
    DBOS.get_event("nobody-sets-this", "never", timeout_seconds=seconds)

asyncio.run(waits(0))  # a helper started from the main thread (not a daemon)
threading.Thread(target=asyncio.run, args=(waits(3600),), daemon=True).start()
while DBOS._rt().hub.count("event") == 0:  # until the long call is parked, on its helper
    threading.Event().wait(0.01)
print("helpers are daemons:", {t.daemon for t in threading.enumerate() if t.name.startswith("tether-bridge")})
# no DBOS.destroy(): the process must end anyway
"""


def test_a_process_that_forgets_destroy_exits_while_a_sync_call_in_async_code_waits(db_url: str,
                                                                                     tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", FORGETFUL, db_url], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)  # the call inside waits an hour: only a helper that holds up exit hits this
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "helpers are daemons: {True}\n", proc.stdout
