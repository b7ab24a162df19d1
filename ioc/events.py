"""Event contracts: what travels on ioc-monitor's Kafka topics.

Every record is a frozen :mod:`msgspec` Struct, decoded from JSON and validated in one pass
(``benchmarks/decode.py`` measured msgspec against the standard library and chose it).

* ``ioc.<group>.events`` carry :class:`Reading` s: one reading, or a JSON list of them (a
  *pack*). A reading is a measured ``value`` **or** a counted event ``kind``, never both.
* ``ioc.indicators`` carries :class:`GroupIndicator` records and window summaries, the latter
  in packs: a worker publishes the summaries of a metric's window close as columns
  (:class:`WindowSummaries`, up to 500 rows a message); a JSON list of :class:`WindowSummary`
  is read too. Read it with :func:`decode_indicators` (one :class:`WindowSummary` per row).
* ``ioc.alerts`` carries :class:`Alert` and :class:`Incident` records, every state change a
  new record with a higher ``version`` (the audit trail).
* ``ioc.commands`` carries :class:`Command` s from operators.
* ``ioc.deadletter`` carries :class:`DeadLetter` s: the raw bytes and why they were refused.

This module is the contract's front: what callers import. Each job has its own room below
it: :mod:`ioc.reading` (the reading), :mod:`ioc.records` (what a worker publishes),
:mod:`ioc.commands` (what operators send), :mod:`ioc.codec` (JSON in and out) and
:mod:`ioc.validate` (the checks they run).

>>> r = decode_readings(b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall",'
...                     b'"value":12.5,"ts":"2026-11-23T05:00:00Z","district":"Hai Chau"}')
>>> r[0].value, r[0].ts
(12.5, 1795410000.0)
>>> decode_readings(b'[{"group":"flooding","source":"rain-HC-01","metric":"rainfall",'
...                 b'"value":"high","ts":1795410000,"district":"Hai Chau"}]')
Traceback (most recent call last):
...
ioc.errors.ValidationError: $[0].value: expected `float | null`, got `str`
"""

from __future__ import annotations

from ioc.codec import (
    MAX_MESSAGE_BYTES,
    MAX_PACK,
    decode_alert,
    decode_command,
    decode_deadletter,
    decode_indicator,
    decode_indicators,
    decode_readings,
    encode,
)
from ioc.commands import Command, SilenceRecord
from ioc.reading import AttrValue, Reading
from ioc.records import (
    LABELS,
    Alert,
    AlertRecord,
    AlertStatus,
    Category,
    DeadLetter,
    Evidence,
    GroupIndicator,
    Incident,
    IndicatorRecord,
    Label,
    Note,
    Severity,
    WindowSummaries,
    WindowSummary,
)
from ioc.validate import (
    BROAD_SILENCE_ROLES,
    CATEGORIES,
    KNOWN_SOURCES,
    MAX_ID,
    MAX_JSON_DEPTH,
    MAX_TS,
    MIN_TS,
    NARROW_SILENCE_FIELDS,
    SEVERITIES,
    SILENCE_FIELDS,
    alert_id,
    check_depth,
    check_id,
    check_matchers,
    check_position,
    check_silence_policy,
    check_value_kind,
    located,
    parse_ts,
    reading_counted,
    silence_is_broad,
    split_alert_id,
    translated,
)

__all__ = [
    "BROAD_SILENCE_ROLES", "CATEGORIES", "KNOWN_SOURCES", "LABELS", "MAX_ID", "MAX_JSON_DEPTH",
    "MAX_MESSAGE_BYTES", "MAX_PACK", "MAX_TS", "MIN_TS", "NARROW_SILENCE_FIELDS", "SEVERITIES",
    "SILENCE_FIELDS", "Alert", "AlertRecord", "AlertStatus", "AttrValue", "Category", "Command",
    "DeadLetter", "Evidence", "GroupIndicator", "Incident", "IndicatorRecord", "Label", "Note",
    "Reading", "Severity", "SilenceRecord", "WindowSummaries", "WindowSummary", "alert_id",
    "check_depth", "check_id", "check_matchers", "check_position", "check_silence_policy",
    "check_value_kind",
    "decode_alert", "decode_command", "decode_deadletter", "decode_indicator",
    "decode_indicators", "decode_readings", "encode", "located", "parse_ts", "reading_counted",
    "silence_is_broad", "split_alert_id", "translated"
]
