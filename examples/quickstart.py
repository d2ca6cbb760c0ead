"""A first durable workflow on SQLite, no setup: python examples/quickstart.py [PAUSE_SECONDS]

It fetches an order (step 1), pauses for PAUSE_SECONDS (default 10), then charges the order (step 2).
Press Ctrl-C during the pause and run it again: the interrupted order resumes after step 1 (which is not run
again) and sleeps only what remained of its pause. When nothing was interrupted, a new order starts.
The database is $DBOS_SYSTEM_DATABASE_URL, else quickstart.sqlite in the working directory.
"""

from __future__ import annotations

import sys
import time

from tether import DBOS, SetWorkflowID, StorageError


def say(line: str) -> None:
    """Print one line in one write: a resumed order's steps print from another thread at the same time."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@DBOS.step()
def fetch_order(order_id: str) -> dict[str, object]:
    say(f"  step 1: fetching order {order_id}")
    return {"id": order_id, "amount": 42}


@DBOS.step()
def charge(order: dict[str, object]) -> str:
    say(f"  step 2: charging {order['amount']}")
    return f"receipt-{order['id']}"


@DBOS.workflow(name="quickstart.process_order")
def process_order(order_id: str, pause: float) -> str:
    order = fetch_order(order_id)
    DBOS.set_event("pausing", pause)  # recorded with step 1's result: from here on, a rerun resumes after it
    DBOS.sleep(pause)  # durable: after a crash only the remaining time is slept
    return charge(order)


def run(pause: float) -> None:
    DBOS(config={"name": "quickstart"})  # database: $DBOS_SYSTEM_DATABASE_URL, else ./quickstart.sqlite
    launched_ms = int(time.time() * 1000)
    DBOS.launch()  # resumes a workflow an earlier run left unfinished
    orders = DBOS.list_workflows(name="quickstart.process_order", load_input=False, load_output=False)
    # Still running, or resumed by launch() and already done (it slept only what remained of its pause)
    interrupted = [s.workflow_id for s in orders
                   if s.status == "PENDING" or (s.updated_at or 0) >= launched_ms]
    if interrupted:
        workflow_id = interrupted[0]
        say(f"resuming {workflow_id}, interrupted in an earlier run: step 1 is done and is not run again")
        handle = DBOS.retrieve_workflow(workflow_id)
    else:
        workflow_id = f"order-{1001 + len(orders)}"
        say(f"starting {workflow_id}")
        with SetWorkflowID(workflow_id):  # idempotent: this ID never runs twice
            handle = DBOS.start_workflow(process_order, workflow_id, pause)
        DBOS.get_event(workflow_id, "pausing", timeout_seconds=60)  # step 1 is recorded once this is set
        say(f"  pausing {pause:g} s: press Ctrl-C now, then run me again")
    say(f"result: {handle.get_result()}")
    DBOS.destroy()


def main() -> int:
    pause = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    try:
        run(pause)
    except KeyboardInterrupt:
        print("\ninterrupted: the order stays in the database; run me again to resume it", file=sys.stderr)
        return 130
    except StorageError as exc:
        print(f"quickstart: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
