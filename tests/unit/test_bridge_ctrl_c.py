"""Ctrl-C during a sync call ends it with KeyboardInterrupt and nothing else printed, wherever it lands.

A real SIGINT is sent to a real process at a chosen point of the bridge (a trace hook sends it when that
function is entered, so the point is exact instead of a race), including inside asyncio's ``Task()`` and
before ``run_sync`` could guard the coroutine: both printed asyncio warnings at exit before (seen under load
as a flaky quickstart Ctrl-C test).
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import types
from collections.abc import Generator

import pytest

PROGRAM = textwrap.dedent("""
    import asyncio, os, signal, sys, threading
    from tether.engine.bridge import run_sync_call

    async def waits():
        await asyncio.sleep(30)

    armed = False
    def tracer(frame, event, arg):
        global armed
        if armed and event == "call" and frame.f_code.co_name == sys.argv[1] \\
                and threading.current_thread() is threading.main_thread():
            armed = False
            sys.settrace(None)
            os.kill(os.getpid(), signal.SIGINT)

    def making():  # Ctrl-C while the coroutine is made (Python checks for it as soon as a call returns)
        coro = waits()
        os.kill(os.getpid(), signal.SIGINT)
        return coro

    run_sync_call(asyncio.sleep, 0)  # this thread's loop exists, as in a program that already ran calls
    sys.settrace(tracer)
    armed = True
    try:
        run_sync_call(making if sys.argv[1] == "while-made" else waits)
    except KeyboardInterrupt:
        sys.settrace(None)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    print("not interrupted", file=sys.stderr)
""")


@pytest.mark.parametrize("point", ["while-made", "run_sync", "_thread_loop", "_drive", "waits", "create_task",
                                   "call_soon", "_call_soon", "run_until_complete", "run_forever", "_run_once",
                                   "_finish", "_forward"])
def test_ctrl_c_anywhere_in_a_sync_call_prints_nothing_else(point: str) -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM, point], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (130, "interrupted\n")


def test_a_pending_bridge_call_closed_after_its_coroutine_closes_quietly() -> None:
    """At exit, the coroutines of a call left pending by Ctrl-C are finalized in no set order: the one the
    bridge drives may be closed before the bridge's own wrapper. Closing the wrapper then must not raise
    (it printed "cannot reuse already awaited coroutine" after a Ctrl-C of ``tether stream read --follow``)."""
    from tether.engine.bridge import _finish

    @types.coroutine
    def suspend() -> Generator[str, None, None]:
        yield "waiting"  # what a coroutine that waits hands to the Task driving it

    async def waits() -> None:
        await suspend()

    inner = waits()
    wrapper = _finish(inner, inner.send(None), [])
    wrapper.send(None)  # the wrapper is pending now, as inside its Task
    inner.close()
    wrapper.close()
    assert inspect.getcoroutinestate(wrapper) == inspect.CORO_CLOSED
