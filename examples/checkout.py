"""Checkout: an event carries the payment ID back to the caller, a message carries the payment
status into the waiting workflow.  python examples/checkout.py [database-url]"""

from __future__ import annotations

import sys

from tether import DBOS, SetWorkflowID, StorageError

PAYMENT_STATUS = "payment_status"
PAYMENT_ID = "payment_id"


@DBOS.step()
def reserve_inventory(order: str) -> str:
    return f"pay-{order}"


@DBOS.workflow()
def checkout_workflow(order: str) -> str:
    payment_id = reserve_inventory(order)  # validate the order, then hand out a payment ID
    DBOS.set_event(PAYMENT_ID, payment_id)
    payment_status = DBOS.recv(PAYMENT_STATUS, timeout_seconds=30)
    if payment_status is not None and payment_status == "paid":
        return f"order {order} paid with {payment_id}"
    return f"order {order} cancelled: {payment_status or 'timed out'}"


def checkout_endpoint(idempotency_key: str) -> str:
    """What the HTTP handler does: start idempotently, wait for the payment ID."""
    with SetWorkflowID(idempotency_key):
        handle = DBOS.start_workflow(checkout_workflow, idempotency_key)
    payment_id = DBOS.get_event(handle.workflow_id, PAYMENT_ID)
    if payment_id is None:
        raise RuntimeError("Checkout failed to start")
    return str(payment_id)


def payment_webhook(workflow_id: str, payment_status: str) -> None:
    """What the payment processor's webhook does: forward the status to the workflow."""
    DBOS.send(workflow_id, payment_status, PAYMENT_STATUS)


def main() -> None:
    db = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///checkout.sqlite"
    DBOS(config={"name": "checkout", "system_database_url": db})
    DBOS.launch()
    import uuid

    order = f"order-{uuid.uuid4().hex[:8]}"
    payment_id = checkout_endpoint(order)
    print("payment id:", payment_id)
    payment_webhook(order, "paid")
    print("result:", DBOS.retrieve_workflow(order).get_result())
    DBOS.destroy()


if __name__ == "__main__":
    try:
        main()
    except StorageError as exc:  # the database cannot be reached or created: one line, not a traceback
        sys.exit(f"checkout: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)  # unfinished workflows are resumed by the next launch
