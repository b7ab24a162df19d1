"""Decoding one Kafka message of an events topic, and dead letters for what does not fit.

A message holds one reading or a pack (a JSON list). The fast path decodes and validates it in
one msgspec pass (:func:`ioc.events.decode_readings`). When that fails:

* a message that is not a JSON list of objects (bad JSON, not UTF-8, empty, too large, a
  bare string) is refused whole: one :class:`~ioc.events.DeadLetter` with its raw bytes;
* a pack whose items are JSON objects keeps its valid readings; each invalid item gets its own
  dead letter (its bytes, and the field as ``$[i].field``).

A reading whose ``group`` is not the topic's group is dead-lettered too (it would otherwise be
windowed with the wrong window size and alert under the wrong group). Every dead letter carries
the origin topic, partition and offset and a *reason class* for the metrics label:
``malformed`` (not JSON / not UTF-8 / not an object or list), ``size`` (empty, too large,
too many readings), ``invalid`` (breaks the reading contract) or ``wrong_group``.

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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from ioc.errors import ValidationError
from ioc.events import DeadLetter, Reading, decode_readings

__all__ = ["Decoded", "classify", "decode_message"]

_SIZE_HINTS = ("empty message", "empty pack", "bytes, over the", "readings, over")
_MALFORMED_HINTS = ("not valid JSON", "not valid UTF-8", "expected a JSON object")


@dataclass(slots=True)
class Decoded:
    """The valid readings of a message and the dead letters (reason class, record) it made."""

    readings: list[Reading]
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
                   now: float) -> Decoded:
    """Decode one message of ``group``'s events topic (never raises)."""
    try:
        readings = decode_readings(raw)
    except ValidationError as exc:
        return _salvage(raw, exc, group, topic, partition, offset, now)
    for r in readings:
        if r.group != group:
            return _split_groups(raw, readings, group, topic, partition, offset, now)
    return Decoded(readings)


def _wrong_group(where: str, r: Reading, group: str, topic: str) -> ValidationError:
    return ValidationError(where, f"a reading of group {r.group!r} on {topic} (the topic of "
                                  f"group {group!r})")


def _split_groups(raw: bytes, readings: list[Reading], group: str, topic: str, partition: int,
                  offset: int, now: float) -> Decoded:
    if raw.lstrip()[:1] != b"[":  # one reading: refuse the message as it came
        exc = _wrong_group("$.group", readings[0], group, topic)
        return Decoded([], [("wrong_group", _dead(exc, raw, topic, partition, offset, now))])
    items = _raw_items.decode(raw)
    out = Decoded([])
    for i, r in enumerate(readings):
        if r.group == group:
            out.readings.append(r)
        else:
            exc = _wrong_group(f"$[{i}].group", r, group, topic)
            out.dead.append(("wrong_group", _dead(exc, bytes(items[i]), topic, partition,
                                                  offset, now)))
    return out


_raw_items = msgspec.json.Decoder(list[msgspec.Raw])


def _salvage(raw: bytes, exc: ValidationError, group: str, topic: str, partition: int,
             offset: int, now: float) -> Decoded:
    """Keep the valid readings of a pack whose items are JSON objects; refuse the rest."""
    whole = Decoded([], [(classify(exc), _dead(exc, raw, topic, partition, offset, now))])
    if not exc.field.startswith("$[") or raw.lstrip()[:1] != b"[":
        return whole
    try:
        items = _raw_items.decode(raw)
    except msgspec.DecodeError:
        return whole
    if not all(bytes(x).lstrip()[:1] == b"{" for x in items):
        return whole
    out = Decoded([])
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
            out.readings.append(r)
    return out
