"""The floor under an SSE fan-out: the CPU of one small write to each of many loopback TCP connections.

    python3 bench/sse_write_floor.py [--sockets 2000] [--bytes 120] [--rounds 5]

Opens ``sockets`` connected pairs on 127.0.0.1 in this process, then, ``rounds`` times, writes ``bytes`` bytes
to each server-side socket (as a server writes one event to each reader) and reads them on the other side.
Prints the CPU (user + system) and wall time per write, median over the rounds. On loopback the kernel delivers
the segment to the receiving socket inside the sender's write, so this is what a server pays per reader per
value before any Python runs: the gateway's ``server CPU per delivery`` (sse_readers) is measured against it.

``--waiting-reader`` reads the other ends in a second process, blocked in ``epoll_wait`` between segments, as
the benchmark's client is: a write that finds that process asleep also pays for waking it (on this kind of VM,
an inter-processor interrupt), which the plain floor does not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import time
from collections.abc import Callable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--bytes", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--waiting-reader", action="store_true",
                        help="read in another process that waits in epoll, as a real client does")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * args.sockets + 64)), hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(args.sockets)
    pairs = []
    for _ in range(args.sockets):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        pairs.append((server, client))
    data = b"x" * args.bytes
    if args.waiting_reader:
        cpu, wall = _with_waiting_reader(pairs, data, args.rounds)
    else:
        cpu, wall = _in_process(pairs, data, args.rounds)
    for server, client in pairs:
        server.close()
        client.close()
    print(json.dumps({"sockets": args.sockets, "bytes": args.bytes, "rounds": args.rounds,
                      "waiting_reader": args.waiting_reader,
                      "cpu_us_per_write_p50": round(statistics.median(cpu), 2),
                      "wall_us_per_write_p50": round(statistics.median(wall), 2)}))


def _timed_rounds(pairs: list[tuple[socket.socket, socket.socket]], data: bytes, rounds: int,
                  after_round: Callable[[], object]) -> tuple[list[float], list[float]]:
    """CPU and wall time per write (us) of each round of one write to every server end; ``after_round`` runs,
    untimed, before the next round (the reading)."""
    cpu, wall = [], []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        for server, _ in pairs:
            server.send(data)
        cpu.append((time.process_time() - c0) / len(pairs) * 1e6)
        wall.append((time.perf_counter() - w0) / len(pairs) * 1e6)
        after_round()
    return cpu, wall


def _in_process(pairs: list[tuple[socket.socket, socket.socket]], data: bytes,
                rounds: int) -> tuple[list[float], list[float]]:
    def read_all() -> None:
        for _, client in pairs:
            client.recv(65536)

    return _timed_rounds(pairs, data, rounds, read_all)


def _with_waiting_reader(pairs: list[tuple[socket.socket, socket.socket]], data: bytes,
                         rounds: int) -> tuple[list[float], list[float]]:
    """The writes of each round timed in this process while a child reads every client end through epoll; the
    child says on a pipe when it has read a whole round, and the next round starts then."""
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the reader
        sel = selectors.DefaultSelector()
        for _, client in pairs:
            sel.register(client, selectors.EVENT_READ)
        per_round, got = len(pairs) * len(data), 0
        for _ in range(rounds):
            while got < per_round:
                for key, _ in sel.select():
                    got += len(key.fileobj.recv(65536))  # type: ignore[union-attr]
            got -= per_round
            os.write(done_w, b".")
        os._exit(0)
    try:
        return _timed_rounds(pairs, data, rounds, lambda: os.read(done_r, 1))
    finally:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
