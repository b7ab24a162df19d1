"""Encoding and decoding the contract's JSON: one validating pass with :mod:`msgspec`
(``benchmarks/decode.py`` measured it against the standard library), errors translated to
:class:`~ioc.errors.ValidationError` naming the field; :mod:`ioc.events` re-exports it all.

>>> decode_command(encode(Command(command_id="c1", action="ack", user="operator", ts=0.0,
...                               alert_id="robust_z:traffic:trf-HC-01:speed"))).action
'ack'
"""

from __future__ import annotations

from typing import Any

import msgspec

from ioc.commands import Command
from ioc.errors import ValidationError
from ioc.reading import Reading
from ioc.records import (
    AlertRecord,
    DeadLetter,
    IndicatorRecord,
    WindowSummaries,
    WindowSummary,
)
from ioc.validate import check_depth, located, translated

__all__ = [
    "MAX_MESSAGE_BYTES", "MAX_PACK", "decode_alert", "decode_command", "decode_deadletter",
    "decode_indicator", "decode_indicators", "decode_readings", "encode",
]

MAX_MESSAGE_BYTES = 1_048_576
MAX_PACK = 10_000

_reading = msgspec.json.Decoder(Reading)
_readings = msgspec.json.Decoder(list[Reading])
_indicator = msgspec.json.Decoder(IndicatorRecord)
_indicators = msgspec.json.Decoder(IndicatorRecord | WindowSummaries | list[WindowSummary])
_alert = msgspec.json.Decoder(AlertRecord)
_command = msgspec.json.Decoder(Command)
_deadletter = msgspec.json.Decoder(DeadLetter)
_encoder = msgspec.json.Encoder()
_BRACE, _BRACKET = ord("{"), ord("[")


def decode_readings(raw: bytes) -> list[Reading]:
    """Decode one message: a reading or a pack of readings. Raise
    :class:`~ioc.errors.ValidationError` naming the first bad field (``$[i].field`` in packs).
    """
    size = len(raw)
    if size == 0:
        raise ValidationError("$", "empty message")
    if size > MAX_MESSAGE_BYTES:
        raise ValidationError("$", f"message is {size} bytes, over the {MAX_MESSAGE_BYTES} limit")
    first = raw[0]
    if first != _BRACE and first != _BRACKET:  # leading whitespace, or not JSON we take
        first = (raw.lstrip()[:1] or b"\0")[0]
    try:
        if first == _BRACE:
            try:
                return [_reading.decode(raw)]
            except ValidationError as exc:
                raise located(exc, "$") from None
        if first == _BRACKET:
            try:
                readings = _readings.decode(raw)
            except ValidationError as exc:
                raise located(exc, _pack_index(raw, exc)) from None
            if not readings:
                raise ValidationError("$", "empty pack")
            if len(readings) > MAX_PACK:
                raise ValidationError("$", f"pack of {len(readings)} readings, over {MAX_PACK}")
            return readings
        raise ValidationError("$", "expected a JSON object (a reading) or array (a pack)")
    except msgspec.DecodeError as exc:
        raise translated(exc) from None
    except UnicodeDecodeError:
        raise ValidationError("$", "not valid UTF-8") from None


def _pack_index(raw: bytes, exc: ValidationError) -> str:
    """Locate which reading of a pack raised a post-decode check (re-decodes one by one;
    the items after the bad one were never parsed, so their depth is checked first)."""
    check_depth(raw)
    for i, item in enumerate(msgspec.json.decode(raw)):
        try:
            _reading.decode(msgspec.json.encode(item))
        except ValidationError:
            return f"$[{i}]"
        except msgspec.ValidationError:
            continue
    return "$"


def encode(record: msgspec.Struct | list[Any] | dict[str, Any]) -> bytes:
    """JSON bytes of any record, reading, pack or plain dict."""
    return _encoder.encode(record)


def _decoder(dec: msgspec.json.Decoder[Any], raw: bytes) -> Any:
    try:
        return dec.decode(raw)
    except msgspec.DecodeError as exc:
        raise translated(exc) from None


def decode_indicator(raw: bytes) -> IndicatorRecord:
    """One record of ``ioc.indicators`` (not a pack: see :func:`decode_indicators`)."""
    return _decoder(_indicator, raw)


def decode_indicators(raw: bytes) -> list[IndicatorRecord]:
    """The records of one ``ioc.indicators`` message: a record, or window summaries (a
    :class:`~ioc.records.WindowSummaries` pack of columns, as workers publish them, or a list
    of :class:`~ioc.records.WindowSummary`), one record per summary.

    >>> pack = encode([WindowSummary("traffic", "trf-HC-01", "speed", "Hai Chau", 0.0, 60.0,
    ...                              6, 31.5, 29.0, 34.0, 30.0, 1.5)])
    >>> [(s.source, s.count) for s in decode_indicators(pack)]
    [('trf-HC-01', 6)]
    >>> cols = encode(WindowSummaries("traffic", "speed", 0.0, 60.0, False, ["trf-HC-01"],
    ...     ["Hai Chau"], [6], [31.5], [29.0], [34.0], [30.0], [1.5], [0], [0], [False]))
    >>> decode_indicators(cols) == decode_indicators(pack)
    True
    """
    got = _decoder(_indicators, raw)
    if isinstance(got, list):
        return got
    if isinstance(got, WindowSummaries):
        return [*got.rows()]
    return [got]


def decode_alert(raw: bytes) -> AlertRecord:
    """A record of ``ioc.alerts`` (an Alert or an Incident)."""
    return _decoder(_alert, raw)


def decode_command(raw: bytes) -> Command:
    """A record of ``ioc.commands``."""
    return _decoder(_command, raw)


def decode_deadletter(raw: bytes) -> DeadLetter:
    """A record of ``ioc.deadletter``."""
    return _decoder(_deadletter, raw)
