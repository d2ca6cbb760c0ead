"""A Kafka broker for the tests, in a process of its own: ``python3 -m tests.kafka.broker`` prints the address
to bootstrap from (``host:port``) and serves until its standard input is closed. A line ``topic NAME N`` on
its standard input creates topic NAME with N partitions (it answers ``ok``); other topics are created on
first use, as a broker with automatic topic creation does.

No Kafka broker can be installed here (it is neither on PyPI nor in Debian, and its JVM packages come from
Maven Central, which this machine cannot reach), so this serves librdkafka's own broker, the one
confluent-kafka's C library carries for testing clients: it speaks Kafka's wire protocol over TCP, with
topics, partitions, consumer groups and committed offsets. The tests reach it only through that protocol, as
they would a real broker; set ``TETHER_KAFKA_BOOTSTRAP`` to run them against a real one instead.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys


def _librdkafka() -> ctypes.CDLL:
    import confluent_kafka

    here = os.path.dirname(confluent_kafka.__file__)
    found = sorted(glob.glob(os.path.join(here, "..", "confluent_kafka.libs", "librdkafka*.so*")))
    return ctypes.CDLL(found[0] if found else "librdkafka.so.1")


def main() -> int:
    lib = _librdkafka()
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_size_t]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    errstr = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    lib.rd_kafka_conf_set(conf, b"log_level", b"0", errstr, 512)  # the handle only hosts the broker
    handle = lib.rd_kafka_new(0, conf, errstr, 512)  # a producer handle, as librdkafka's own tests use
    if not handle:
        print(f"cannot create the librdkafka handle: {errstr.value.decode()}", file=sys.stderr)
        return 1
    cluster = lib.rd_kafka_mock_cluster_new(handle, 1)
    if not cluster:
        print("cannot start librdkafka's broker", file=sys.stderr)
        return 1
    # As a test broker is set up (DBOS's own tests do the same): a group's first member is not kept waiting
    # 3 s for others to join.
    lib.rd_kafka_mock_group_initial_rebalance_delay_ms.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0)
    print(lib.rd_kafka_mock_cluster_bootstraps(cluster).decode(), flush=True)
    for line in sys.stdin:  # serve until the test process closes our standard input (or ends)
        words = line.split()
        if len(words) == 3 and words[0] == "topic":
            failed = lib.rd_kafka_mock_topic_create(cluster, words[1].encode(), int(words[2]), 1)
            print(f"error {failed}" if failed else "ok", flush=True)
        else:
            print(f"error: unknown command {line.strip()!r}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
