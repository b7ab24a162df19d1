"""Kafka records of ingested readings and dead letters. Pure.

Readings of one (group, source) go out as one record keyed by the source id (a reading, or a
pack when there are several), so a source stays on one partition and in order.

>>> from ioc.events import Reading
>>> rs = [Reading(group="flooding", source="t1", metric=m, value=1.0, ts=1795410000.0,
...               district="Hai Chau") for m in ("rainfall", "flood_depth")]
>>> [(t, k, v[:1]) for t, k, v in records_of(rs)]
[('ioc.flooding.events', b't1', b'[')]
>>> t, k, v = dead_letter_of("danang/x", b"\\xff", ("$", "not JSON"), 1795410000.0)
>>> t, k, decode_deadletter(v).topic, decode_deadletter(v).raw
('ioc.deadletter', b'danang/x', 'mqtt:danang/x', b'\\xff')
"""

from __future__ import annotations

from collections.abc import Iterable

from ioc.events import DeadLetter, Reading, decode_deadletter, encode  # noqa: F401

Record = tuple[str, bytes, bytes]


def records_of(readings: Iterable[Reading], prefix: str = "ioc") -> list[Record]:
    """(topic, key, value) per (group, source) of ``readings``, in first-seen order."""
    by: dict[tuple[str, str], list[Reading]] = {}
    for r in readings:
        by.setdefault((r.group, r.source), []).append(r)
    return [(f"{prefix}.{group}.events", source.encode(),
             encode(rs[0] if len(rs) == 1 else rs)) for (group, source), rs in by.items()]


def dead_letter_of(origin: str, raw: bytes, error: tuple[str, str], ts: float,
                   prefix: str = "ioc", scheme: str = "mqtt") -> Record:
    """The ``ioc.deadletter`` record of a refused message (``origin``: its MQTT topic;
    ``error``: the field and the reason)."""
    field, reason = error
    letter = DeadLetter(reason=reason, field=field[:200], topic=f"{scheme}:{origin}"[:300],
                        partition=-1, offset=-1, raw=raw, ts=ts)
    return f"{prefix}.deadletter", origin.encode()[:256], encode(letter)
