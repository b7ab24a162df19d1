"""Readings as Kafka messages: one reading each, or a pack of one source's readings, on the
topic ``<prefix>.<group>.events``.

>>> m = to_messages([Reading(group="flooding", source="rain-HC-01", metric="rainfall",
...                          ts=1795410000.0, district="Hai Chau", value=1.0)],
...                 topic_prefix="t1")[0]
>>> m.topic, m.key, m.pack
('t1.flooding.events', 'rain-HC-01', False)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ioc import topics
from ioc.errors import UsageError
from ioc.events import Reading, encode

__all__ = ["Message", "check_prefix", "prefixed", "to_messages"]


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
