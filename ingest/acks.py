"""Acknowledging MQTT messages in order, each once Kafka has every reading made from it.

MQTT 3.1.1 and 5 want a client's PUBACKs in the order it received the PUBLISHes; Kafka
confirms deliveries per partition, so the readings of later messages may be confirmed first.
:class:`InOrderAcks` holds the messages received and still owed, and hands back the longest
prefix that is complete. Pure, thread-safe (the MQTT thread adds, Kafka's thread confirms).

>>> acks = InOrderAcks()
>>> acks.add("m1", 2); acks.add("m2", 1); acks.add("m3", 0)
[]
[]
[]
>>> acks.confirm("m2"), acks.confirm("m1"), acks.confirm("m1")
([], [], ['m1', 'm2', 'm3'])
>>> len(acks)
0
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)


class InOrderAcks(Generic[T]):
    """Messages received (in order) and how many Kafka deliveries each still waits for."""

    def __init__(self) -> None:
        self._owed: OrderedDict[T, int] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, token: T, deliveries: int) -> list[T]:
        """Register a message that waits for ``deliveries`` Kafka confirmations (0: none,
        e.g. a duplicate); returns the messages now free to acknowledge, in order."""
        with self._lock:
            self._owed[token] = deliveries
            return self._ready()

    def confirm(self, token: T) -> list[T]:
        """One delivery of ``token`` confirmed; returns the messages free to acknowledge."""
        with self._lock:
            self._owed[token] -= 1
            return self._ready()

    def _ready(self) -> list[T]:
        out: list[T] = []
        while self._owed:
            token, left = next(iter(self._owed.items()))
            if left > 0:
                break
            self._owed.popitem(last=False)
            out.append(token)
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._owed)
