"""Hand-off: a message sent to a ``recv`` parked in this process goes straight into that recv's checkpoint.

A plain send queues the message (one commit), and the woken receiver then takes it and records it as its
``DBOS.recv`` operation (a second commit). When the receiver is parked in this same process (the common case
of an HTTP handler sending to a workflow it started), the sender instead records the message as the recv's
output in its own transaction (``Store.hand_message``): one commit for the round trip, and the receiver
returns without a statement of its own. What is stored is exactly what the two commits would have stored
(the recv's operation with the message as its output), so recovery, forks and the step history see no
difference.

The registry here only routes: a recv that found its topic empty opens a *slot* before it parks; a sender
that finds a waiting slot *claims* it, so the receiver does not take a message of its own while the hand-off
is in flight, and *settles* it afterwards (handed, or not). The database decides every race the slot cannot
see: the hand-off records the recv only while nothing is recorded for it and no older message waits (else it
queues the message as usual), and the recv's own take deletes a message only when it recorded it
(``consume_message``). So a slot released early (a sender cancelled mid-statement) costs a plain send, never
a lost or doubled message.
"""

from __future__ import annotations

import threading

WAITING = 0  # parked in its recv; a sender may claim it
CLAIMED = 1  # a sender's hand-off statement is in flight: the receiver must not take a message itself
HANDED = 2   # the hand-off committed: ``payload`` is the recv's output, recorded


class Slot:
    """A recv parked in this process: which operation it records, and where a hand-off stands."""

    __slots__ = ("function_id", "key", "payload", "started_at", "state")

    def __init__(self, key: tuple[str, str], function_id: int, started_at: int) -> None:
        self.key = key
        self.function_id = function_id
        self.started_at = started_at
        self.state = WAITING
        self.payload: bytes | None = None


class Handoffs:
    """The recvs parked in this process, by (workflow ID, topic): at most one slot per pair (a second recv
    on the same pair at once, in an async workflow, simply takes from the queue)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], Slot] = {}

    def open(self, workflow_id: str, topic: str, function_id: int, started_at: int) -> Slot | None:
        """The receiver found the topic empty and is about to park: let senders hand it a message."""
        key = (workflow_id, topic)
        with self._lock:
            if key in self._slots:
                return None
            slot = self._slots[key] = Slot(key, function_id, started_at)
            return slot

    def close(self, slot: Slot) -> int:
        """The receiver woke (or leaves): stop taking hand-offs. Returns the slot's state: HANDED (the message
        is ``slot.payload``, recorded), CLAIMED (a hand-off is in flight; the slot stays, and the sender wakes
        the receiver when it settles) or WAITING (closed; the receiver takes from the queue itself)."""
        with self._lock:
            if slot.state != CLAIMED and self._slots.get(slot.key) is slot:
                del self._slots[slot.key]
            return slot.state

    def abandon(self, slot: Slot) -> None:
        """The receiver leaves its recv (returned, timed out, cancelled): forget the slot whatever its state.
        A hand-off still in flight is then decided by the database alone."""
        with self._lock:
            if self._slots.get(slot.key) is slot:
                del self._slots[slot.key]

    def claim(self, workflow_id: str, topic: str) -> Slot | None:
        """A sender's turn: the waiting slot of (workflow, topic), now claimed, or None (send as usual)."""
        with self._lock:
            slot = self._slots.get((workflow_id, topic))
            if slot is None or slot.state != WAITING:
                return None
            slot.state = CLAIMED
            return slot

    def settle(self, slot: Slot, payload: bytes | None) -> None:
        """The claiming sender's statement is over: ``payload`` when it recorded the message as the recv's
        output, None when it queued it, wrote nothing, or failed. The caller then wakes the receiver."""
        with self._lock:
            if payload is None:
                if slot.state == CLAIMED:  # (a second settle of a handed slot changes nothing)
                    slot.state = WAITING
                return
            slot.payload = payload
            slot.state = HANDED
            if self._slots.get(slot.key) is slot:
                del self._slots[slot.key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)


class Reading:
    """A ``get_event`` parked in this process, and the value a set_event here committed for it, if any."""

    __slots__ = ("key", "value")

    def __init__(self, key: tuple[str, str]) -> None:
        self.key = key
        self.value: bytes | None = None


class EventBoard:
    """Event values handed to the readers parked in this process, by (workflow ID, key).

    A set_event that committed a value hands it to every ``get_event`` waiting here for that key before it
    wakes them, so a woken reader returns it without reading it back. The value was the event's latest at its
    commit, which fell after the reader found the key unset: a value current during the reader's call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: dict[tuple[str, str], set[Reading]] = {}

    def open(self, workflow_id: str, key: str) -> Reading:
        """A reader found ``key`` unset and is about to wait for it."""
        reading = Reading((workflow_id, key))
        with self._lock:
            self._readers.setdefault(reading.key, set()).add(reading)
        return reading

    def close(self, reading: Reading) -> None:
        """The reader is done waiting (call once per :meth:`open`)."""
        with self._lock:
            group = self._readers.get(reading.key)
            if group is not None:
                group.discard(reading)
                if not group:
                    del self._readers[reading.key]

    def publish(self, workflow_id: str, key: str, value: bytes) -> None:
        """A set_event in this process committed ``value``: hand it to the readers of that key (the caller
        then wakes them)."""
        with self._lock:
            for reading in self._readers.get((workflow_id, key), ()):
                reading.value = value
