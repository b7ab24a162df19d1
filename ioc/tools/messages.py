"""Readings as Kafka messages: one reading each, or a pack of one source's readings, on the
topic ``<prefix>.<group>.events``; :func:`pack_run` groups a simulated run's readings by its
pack-size policy.

>>> m = to_messages([Reading(group="flooding", source="rain-HC-01", metric="rainfall",
...                          ts=1795410000.0, district="Hai Chau", value=1.0)],
...                 topic_prefix="t1")[0]
>>> m.topic, m.key, m.pack
('t1.flooding.events', 'rain-HC-01', False)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from ioc import topics
from ioc.errors import UsageError
from ioc.events import Reading, encode

__all__ = ["PACK_WAIT_S", "Message", "check_prefix", "pack_run", "prefixed", "to_messages"]

# With --pack-size, a source's readings wait at most this long (simulated) for a full pack.
PACK_WAIT_S = 20.0


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message: ``key`` is the source id, ``readings`` one reading or a pack."""

    topic: str
    key: str
    readings: tuple[Reading, ...]
    pack: bool

    def payload(self) -> bytes:
        """The message value: one reading's JSON, or a JSON list for a pack."""
        return encode(list(self.readings)) if self.pack else encode(self.readings[0])


_PREFIX_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_prefix(prefix: str) -> str:
    """A topic prefix (``ioc`` gives the standard names), or UsageError.

    >>> check_prefix("t.e2e-1")
    't.e2e-1'
    """
    if not prefix or len(prefix) > 100 or not set(prefix) <= _PREFIX_CHARS:
        raise UsageError(f"--topic-prefix: must be 1-100 of [A-Za-z0-9._-], got {prefix!r}")
    return prefix


def prefixed(topic: str, prefix: str) -> str:
    """``topic`` (a standard ``ioc.*`` name) under ``prefix``.

    >>> prefixed("ioc.flooding.events", "t1"), prefixed("ioc.alerts", "ioc")
    ('t1.flooding.events', 'ioc.alerts')
    """
    return f"{prefix}{topic[len(topics.PREFIX):]}"


def to_messages(readings: Iterable[Reading], *, pack: bool = False,
                topic_prefix: str = topics.PREFIX) -> list[Message]:
    """Readings as messages: one each, or (``pack``) one pack per (group, source), in the
    order each source first appears; topics ``<topic_prefix>.<group>.events``.

    >>> r = [Reading(group="flooding", source=s, metric="rainfall", ts=1795410000.0,
    ...              district="Hai Chau", value=1.0) for s in ("rain-HC-01", "rain-TK-01",
    ...                                                        "rain-HC-01")]
    >>> [(m.key, len(m.readings), m.pack) for m in to_messages(r, pack=True)]
    [('rain-HC-01', 2, True), ('rain-TK-01', 1, True)]
    >>> len(to_messages(r))
    3
    """
    def topic(group: str) -> str:
        return prefixed(topics.events_topic(group), topic_prefix)

    if not pack:
        return [Message(topic(r.group), r.source, (r,), False) for r in readings]
    grouped: dict[tuple[str, str], list[Reading]] = {}
    for r in readings:
        grouped.setdefault((r.group, r.source), []).append(r)
    return [Message(topic(g), sid, tuple(rs), True) for (g, sid), rs in grouped.items()]


class PackingSource(Protocol):
    """What :func:`pack_run` needs to know of a source."""

    id: str
    topic: str
    pack: bool  # sends one pack per tick (the natural policy)


def pack_run(batches: Iterable[tuple[float, list[Reading], Iterable[PackingSource]]],
             sources: Mapping[str, PackingSource], *, pack_size: int | None,
             start: float) -> Iterator[tuple[float, list[Message]]]:
    """``(second, messages)`` per ``(second, readings, sources ticked)`` of a run, every
    reading in exactly one message. ``pack_size`` ``None``: natural (a source with ``pack``
    sends the readings since its last tick as one pack when it ticks, the rest single
    readings); ``1``: never packs; ``N``: packs of up to N readings of one source, held at
    most :data:`PACK_WAIT_S` simulated seconds. A final entry flushes packs still waiting
    when the run ends (at the last second, or ``start`` for an empty run).

    >>> from ioc.tools.simulator import CitySimulator
    >>> sim = CitySimulator(seed=1, start=1795410000, duration=30, groups=["public_transport"])
    >>> natural = [m for _t, msgs in sim.messages() for m in msgs]
    >>> all(m.pack for m in natural), sum(len(m.readings) for m in natural) == sum(map(len, sim))
    (True, True)
    """
    buffers: dict[str, list[Reading]] = {}
    size = pack_size
    last = start

    def flush(sid: str) -> Message:
        readings = buffers.pop(sid)
        return Message(sources[sid].topic, sid, tuple(readings), True)

    for t, readings, ticked in batches:
        last = t
        out: list[Message] = []
        if size is None:
            for r in readings:
                state = sources[r.source]
                if state.pack:
                    buffers.setdefault(r.source, []).append(r)
                else:
                    out.append(Message(state.topic, r.source, (r,), False))
            for state in ticked:
                if state.pack and state.id in buffers:
                    out.append(flush(state.id))
        elif size == 1:
            out.extend(Message(sources[r.source].topic, r.source, (r,), False)
                       for r in readings)
        else:
            for r in readings:
                buf = buffers.setdefault(r.source, [])
                buf.append(r)
                if len(buf) >= size:
                    out.append(flush(r.source))
            stale = t - PACK_WAIT_S
            for sid in [sid for sid, buf in buffers.items() if buf[0].epoch <= stale]:
                out.append(flush(sid))
        yield t, out
    if buffers:
        yield last, [flush(sid) for sid in list(buffers)]
