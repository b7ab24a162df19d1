"""Decoding one Kafka message of an events topic, and dead letters for what does not fit.

A message holds one reading or a pack (a JSON list). The fast path decodes and validates it
into columns (:func:`ioc.reading_columns.decode_columns`: the same contract and errors as
:func:`ioc.events.decode_readings`, checked in bulk). When that fails:

* a message that is not a JSON list of objects (bad JSON, not UTF-8, empty, too large, a
  bare string) is refused whole: one :class:`~ioc.events.DeadLetter` with its raw bytes;
* a pack whose items are JSON objects keeps its valid readings; each invalid item gets its own
  dead letter (its bytes, and the field as ``$[i].field``).

A reading whose ``group`` is not the topic's group is dead-lettered too (it would otherwise be
windowed with the wrong window size and alert under the wrong group), and so is a reading
dated more than ``max_future`` seconds ahead of the worker's wall clock ``now``
(``IOC_MAX_FUTURE_S``: it would otherwise move its partition's clock into the future and make
every live reading late). Every dead letter carries the origin topic, partition and offset and
a *reason class* for the metrics label: ``malformed`` (not JSON / not UTF-8 / not an object or
list), ``size`` (empty, too large, too many readings), ``too_deep`` (JSON nested deeper than
:data:`~ioc.events.MAX_JSON_DEPTH`: refused before any schema-free decoding, so it costs no
recursion and logs no traceback), ``invalid`` (breaks the reading contract), ``wrong_group`` or
``future``. The checks on the way of valid readings are one comparison of group and one of
time per message (one count over the groups, one maximum over the times).

>>> good = b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","value":1.5,' \\
...        b'"ts":1795410000,"district":"Hai Chau"}'
>>> bad = good.replace(b'1.5', b'"wet"')
>>> d = decode_message(b"[" + good + b"," + bad + b"]", group="flooding",
...                    topic="ioc.flooding.events", partition=2, offset=41, now=0.0)
>>> len(d.readings), [(x.field, x.offset, cls) for cls, x in d.dead]
(1, [('$[1].value', 41, 'invalid')])
>>> decode_message(b"\\xff{", group="flooding", topic="ioc.flooding.events", partition=0,
...                offset=7, now=0.0).dead[0][0]
'malformed'
>>> cls, dead = decode_message(good, group="flooding", topic="ioc.flooding.events",
...                            partition=0, offset=8, now=1795400000.0, max_future=300).dead[0]
>>> cls, dead.field, dead.reason[:60]
('future', '$.ts', 'dated 2026-11-23T05:00:00Z, 10,000 s ahead of the wall clock')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import msgspec

from ioc.errors import ValidationError
from ioc.events import MAX_JSON_DEPTH, DeadLetter, Reading, check_depth, decode_readings, encode
from ioc.reading_columns import ReadingColumns, decode_columns
from streams.windows import iso

__all__ = ["Decoded", "classify", "decode_message"]

_SIZE_HINTS = ("empty message", "empty pack", "bytes, over the", "readings, over")
_MALFORMED_HINTS = ("not valid JSON", "not valid UTF-8", "expected a JSON object")


@dataclass(slots=True)
class Decoded:
    """The valid readings of a message (columns on the fast path) and the dead letters (reason
    class, record) it made."""

    readings: list[Reading] | ReadingColumns
    dead: list[tuple[str, DeadLetter]] = field(default_factory=list)


def classify(exc: ValidationError) -> str:
    """The reason class of a decoding error (a low-cardinality metrics label).

    >>> classify(ValidationError("$", "not valid JSON: truncated"))
    'malformed'
    >>> classify(ValidationError("$[3].value", "must be a finite number, got inf"))
    'invalid'
    """
    reason = exc.reason
    if exc.field == "$":
        if reason.startswith("too deep"):
            return "too_deep"
        if any(h in reason for h in _SIZE_HINTS):
            return "size"
        if any(h in reason for h in _MALFORMED_HINTS):
            return "malformed"
    return "invalid"


def _dead(exc: ValidationError, raw: bytes, topic: str, partition: int, offset: int,
          now: float) -> DeadLetter:
    return DeadLetter(reason=exc.reason, field=exc.field, topic=topic, partition=partition,
                      offset=offset, raw=raw, ts=now)


def decode_message(raw: bytes, *, group: str, topic: str, partition: int, offset: int,
                   now: float, max_future: float = math.inf) -> Decoded:
    """Decode one message of ``group``'s events topic (never raises); readings dated more
    than ``max_future`` seconds after ``now`` are refused."""
    try:
        cols = decode_columns(raw)
    except ValidationError as exc:
        return _salvage(raw, exc, group, topic, partition, offset, now)
    except RecursionError:  # the depth check runs only off the fast path: catch it here too
        return _too_deep(raw, topic, partition, offset, now)
    latest = now + max_future
    if (cols.group != group and cols.groups.count(group) != len(cols)) or \
            cols.span()[1] > latest:
        return _split(raw, cols.readings(), group, topic, partition, offset, now, latest)
    return Decoded(cols)


def _too_deep(raw: bytes, topic: str, partition: int, offset: int, now: float) -> Decoded:
    exc = ValidationError("$", f"too deep: JSON nested more than {MAX_JSON_DEPTH} levels")
    return Decoded([], [("too_deep", _dead(exc, raw, topic, partition, offset, now))])


def _future(where: str, r: Reading, now: float, latest: float) -> ValidationError:
    ts: float = r.ts  # type: ignore[assignment]
    return ValidationError(where, f"dated {iso(ts)}, {ts - now:,.0f} s ahead of the wall clock "
                                  f"({iso(now)}); readings more than IOC_MAX_FUTURE_S="
                                  f"{latest - now:g} s ahead are refused and move no clock")


def _wrong_group(where: str, r: Reading, group: str, topic: str) -> ValidationError:
    return ValidationError(where, f"a reading of group {r.group!r} on {topic} (the topic of "
                                  f"group {group!r})")


def _split(raw: bytes, readings: list[Reading], group: str, topic: str, partition: int,
           offset: int, now: float, latest: float) -> Decoded:
    """Keep the readings of the topic's group dated before ``latest``; refuse the others."""
    if raw.lstrip()[:1] != b"[":  # one reading: refuse the message as it came
        r = readings[0]
        if r.group != group:
            exc = _wrong_group("$.group", r, group, topic)
            return Decoded([], [("wrong_group", _dead(exc, raw, topic, partition, offset,
                                                      now))])
        exc = _future("$.ts", r, now, latest)
        return Decoded([], [("future", _dead(exc, raw, topic, partition, offset, now))])
    try:
        items: list[bytes] | None = [bytes(x) for x in _raw_items.decode(raw)]
    except (msgspec.DecodeError, RecursionError):  # decoded once: not expected
        items = None
    out, kept = Decoded([]), []
    for i, r in enumerate(readings):
        one = items[i] if items is not None and len(items) == len(readings) else encode(r)
        if r.group != group:
            exc = _wrong_group(f"$[{i}].group", r, group, topic)
            out.dead.append(("wrong_group", _dead(exc, one, topic, partition, offset, now)))
        elif r.ts > latest:  # type: ignore[operator]
            exc = _future(f"$[{i}].ts", r, now, latest)
            out.dead.append(("future", _dead(exc, one, topic, partition, offset, now)))
        else:
            kept.append(r)
    out.readings = kept
    return out


_raw_items = msgspec.json.Decoder(list[msgspec.Raw])


def _salvage(raw: bytes, exc: ValidationError, group: str, topic: str, partition: int,
             offset: int, now: float) -> Decoded:
    """Keep the valid readings of a pack whose items are JSON objects; refuse the rest."""
    whole = Decoded([], [(classify(exc), _dead(exc, raw, topic, partition, offset, now))])
    if not exc.field.startswith("$[") or raw.lstrip()[:1] != b"[":
        return whole
    try:
        check_depth(raw)  # before the schema-free decode below, which would recurse
        items = _raw_items.decode(raw)
    except ValidationError as deep:
        return Decoded([], [(classify(deep), _dead(deep, raw, topic, partition, offset, now))])
    except RecursionError:
        return _too_deep(raw, topic, partition, offset, now)
    except msgspec.DecodeError:
        return whole
    if not all(bytes(x).lstrip()[:1] == b"{" for x in items):
        return whole
    out, kept = Decoded([]), []
    for i, item in enumerate(items):
        one = bytes(item)  # the reading's own bytes, as they came
        try:
            got = decode_readings(one)
        except ValidationError as bad:
            f = bad.field[1:] if bad.field.startswith("$") else f".{bad.field}"
            located = ValidationError(f"$[{i}]{f}", bad.reason)
            out.dead.append((classify(located), _dead(located, one, topic, partition, offset,
                                                      now)))
            continue
        r = got[0]
        if r.group != group:
            wrong = _wrong_group(f"$[{i}].group", r, group, topic)
            out.dead.append(("wrong_group", _dead(wrong, one, topic, partition, offset, now)))
        else:
            kept.append(r)
    out.readings = kept
    return out
