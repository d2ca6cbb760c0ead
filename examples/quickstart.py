"""A first durable workflow on SQLite, no setup: python examples/quickstart.py

Run it, kill it with Ctrl-C during the sleep, run it again: the workflow resumes after its last completed
step instead of starting over.
"""

from __future__ import annotations

import os
import sys

from tether import DBOS, SetWorkflowID


@DBOS.step()
def fetch_order(order_id: str) -> dict[str, object]:
    print(f"  step 1: fetching order {order_id}")
    return {"id": order_id, "amount": 42}


@DBOS.step()
def charge(order: dict[str, object]) -> str:
    print(f"  step 2: charging {order['amount']}")
    return f"receipt-{order['id']}"


@DBOS.workflow()
def process_order(order_id: str, pause: float) -> str:
    order = fetch_order(order_id)
    DBOS.sleep(pause)  # durable: after a crash only the remaining time is slept
    return charge(order)


def main() -> None:
    db = os.environ.get("TETHER_DATABASE_URL") or "sqlite:///quickstart.sqlite"
    DBOS(config={"name": "quickstart", "system_database_url": db})
    DBOS.launch()  # also resumes a workflow interrupted by an earlier run
    pause = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    with SetWorkflowID("order-1001"):
        handle = DBOS.start_workflow(process_order, "1001", pause)
    print("result:", handle.get_result())
    DBOS.destroy()


if __name__ == "__main__":
    main()
