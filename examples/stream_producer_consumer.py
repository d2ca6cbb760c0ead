"""Streams: a workflow produces values, a reader follows them live until the close.
python examples/stream_producer_consumer.py [database-url]"""

from __future__ import annotations

import sys
import threading

from tether import DBOS, StorageError

example_key = "progress"


@DBOS.workflow()
def producer_workflow(n: int) -> int:
    for i in range(1, n + 1):
        DBOS.write_stream(example_key, {"step": i, "data": f"value{i}"})
        DBOS.sleep(0.05)
    DBOS.close_stream(example_key)  # signal completion
    return n


def main() -> None:
    db = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///streams.sqlite"
    DBOS(config={"name": "streams", "system_database_url": db})
    DBOS.launch()
    handle = DBOS.start_workflow(producer_workflow, 5)
    received: list[object] = []

    def consume() -> None:
        for value in DBOS.read_stream(handle.workflow_id, example_key):
            print(f"Received: {value}")
            received.append(value)

    reader = threading.Thread(target=consume)
    reader.start()
    reader.join()
    print("values:", len(received), "result:", handle.get_result())
    DBOS.destroy()


if __name__ == "__main__":
    try:
        main()
    except StorageError as exc:  # the database cannot be reached or created: one line, not a traceback
        sys.exit(f"streams: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)  # unfinished workflows are resumed by the next launch
