"""Event contracts: what travels on ioc-monitor's Kafka topics.

Every record is a frozen :mod:`msgspec` Struct, decoded from JSON and validated in one pass
(``benchmarks/decode.py`` measured msgspec against the standard library and chose it).

* ``ioc.<group>.events`` carry :class:`Reading` s: one reading, or a JSON list of them (a
  *pack*). A reading is a measured ``value`` **or** a counted event ``kind``, never both.
* ``ioc.indicators`` carries :class:`GroupIndicator` records and :class:`WindowSummary` s,
  the latter in packs (a JSON list; a worker publishes the summaries of a window close in
  packs of up to 500): read it with :func:`decode_indicators`.
* ``ioc.alerts`` carries :class:`Alert` and :class:`Incident` records, every state change a
  new record with a higher ``version`` (the audit trail).
* ``ioc.commands`` carries :class:`Command` s from operators.
* ``ioc.deadletter`` carries :class:`DeadLetter` s: the raw bytes and why they were refused.

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

from typing import Any, Literal

import msgspec
from msgspec.structs import force_setattr

from ioc.errors import ValidationError
from ioc.validate import (  # noqa: F401 - re-exported: their users import them from here
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

MAX_MESSAGE_BYTES = 1_048_576
MAX_PACK = 10_000

Severity = Literal["info", "warning", "major", "critical"]
AlertStatus = Literal["firing", "acknowledged", "resolved", "silenced"]
Category = Literal["city", "sensor_health"]

AttrValue = str | int | float | bool
#: what an operator says an alert was, when acknowledging or resolving it
Label = Literal["real", "false_alarm", "sensor_fault", "planned"]
LABELS: tuple[str, ...] = ("real", "false_alarm", "sensor_fault", "planned")


class Reading(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
              omit_defaults=True, gc=False):
    """One sensor reading or one counted service event.

    ``ts`` may arrive as epoch seconds or RFC 3339; it is always epoch seconds once decoded.
    Not tracked by the cycle collector (``gc=False``): its fields are strings, numbers and a
    dict of scalars, which cannot form a cycle, and a worker makes millions of them.
    """

    group: str
    source: str
    metric: str
    ts: float | str
    district: str
    value: float | None = None
    kind: str | None = None
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    attrs: dict[str, AttrValue] | None = None

    def __post_init__(self) -> None:
        # Runs once per decoded reading, so the common case is look-ups and comparisons
        # inline; on a miss the helpers redo the checks in order and raise the exact error.
        try:
            group, district, metrics = KNOWN_SOURCES[self.source]
            counted = metrics[self.metric] if (
                group == self.group and district == self.district) else None
        except (KeyError, TypeError):
            counted = None
        if counted is None:
            counted = reading_counted(self.group, self.metric, self.source, self.district)
        value = self.value  # below, value - value is 0.0 unless value is inf or nan
        if counted or self.kind is not None or value is None or value - value != 0.0:
            check_value_kind(self.group, self.metric, value, self.kind)
        lat, lon = self.lat, self.lon
        if (lat is not None and not -90.0 <= lat <= 90.0) or (
                lon is not None and not -180.0 <= lon <= 180.0):
            check_position(lat, lon)
        ts = self.ts
        if (ts.__class__ is not float and not isinstance(ts, float)) or not (
                MIN_TS <= ts <= MAX_TS):
            force_setattr(self, "ts", parse_ts("ts", ts))

    @property
    def epoch(self) -> float:
        """``ts`` as epoch seconds (always a float after decoding)."""
        return self.ts  # type: ignore[return-value]

    @property
    def counted(self) -> bool:
        """True for a counted service event."""
        return self.kind is not None


class WindowSummary(msgspec.Struct, frozen=True, gc=False, tag="window"):
    """One closed tumbling window of one (source, metric).

    Positional construction is allowed (a worker makes one per series and window: keywords
    cost five times as much); the fields' order is part of this class's contract."""

    group: str
    source: str
    metric: str
    district: str
    start: float
    end: float
    count: int
    mean: float
    min: float
    max: float
    last: float
    std: float
    late: int = 0
    dropped: int = 0
    counted: bool = False
    in_breach: bool = False


class GroupIndicator(msgspec.Struct, frozen=True, kw_only=True, tag="indicator"):
    """A group's indicators in one district for one window."""

    group: str
    district: str
    start: float
    end: float
    sources_reporting: int
    sources_expected: int
    sources_in_breach: int
    open_alerts: dict[str, int]
    kpis: dict[str, float]


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Why a detector fired: the window, the baseline, the threshold and the recent values;
    ``side``: whether the value was ``high`` or ``low`` against the baseline (None: not
    known, or a record from before sides were carried)."""

    window_start: float
    window_end: float
    value: float
    baseline: float
    threshold: float | None
    score: float
    raw: float
    detector: str
    detector_version: str
    params: dict[str, Any]
    recent: list[float]
    detail: dict[str, Any] = {}
    side: Literal["high", "low"] | None = None


class Note(msgspec.Struct, frozen=True, kw_only=True):
    """A free-text note an operator attached to an alert."""

    ts: float
    user: str
    text: str
    display_name: str | None = None  # the author's name (notes before it: None)


class Alert(msgspec.Struct, frozen=True, kw_only=True, tag="alert"):
    """One version of an alert. ``alert_id`` is stable per (detector, group, source, metric);
    ``version`` grows by one with every state change, so (alert_id, version) is unique and
    applying records in version order is idempotent."""

    alert_id: str
    version: int
    status: AlertStatus
    severity: Severity
    category: Category
    group: str
    district: str
    source: str
    metric: str
    detector: str
    title: str
    first_seen: float
    last_seen: float
    count: int
    updated_at: float
    change: str
    evidence: Evidence
    user: str | None = None
    reason: str | None = None
    notes: list[Note] = []
    incident_id: str | None = None
    silenced_until: float | None = None
    display_name: str | None = None  # the name of ``user`` (None: no person, or older records)
    label: Label | None = None       # an operator's verdict on the episode (kept on its versions)
    label_note: str | None = None    # the words that came with the label
    # the title as message parts, {"key": ..., "params": {...}} of the catalogs (ioc.i18n), so
    # a page renders it in its reader's language; ``title`` is its English (None: older)
    title_parts: dict[str, Any] | None = None


class Incident(msgspec.Struct, frozen=True, kw_only=True, tag="incident"):
    """Firing alerts of two or more groups in one district within a span, linked."""

    incident_id: str
    version: int
    status: Literal["open", "closed"]
    district: str
    groups: list[str]
    alert_ids: list[str]
    severity: Severity
    title: str
    first_seen: float
    last_seen: float
    updated_at: float


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """An operator's command. ``ack``/``resolve``/``note`` target ``alert_id``; ``silence``
    targets every alert whose fields equal all ``matchers`` until ``until``; ``unsilence``
    lifts the silence ``silence_id`` (the ``command_id`` of the ``silence`` command).

    Matchers are checked against the catalog (see :func:`check_matchers`); how long and how
    broad a silence may be is a deployment's policy (:func:`check_silence_policy`), judged
    where the settings are known.

    >>> Command(command_id="c1", action="silence", user="operator", ts=0.0, until=60.0,
    ...         matchers={"group": "no-such-group"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: matchers.group: unknown group 'no-such-group' (known: ...)
    """

    command_id: str
    action: Literal["ack", "resolve", "silence", "unsilence", "note"]
    user: str
    ts: float
    reason: str = ""
    alert_id: str | None = None
    matchers: dict[str, str] | None = None
    until: float | None = None
    text: str | None = None
    silence_id: str | None = None
    display_name: str | None = None  # the signed-in person's name (records before it: None)
    label: Label | None = None  # ``ack``/``resolve``: what the alert was (``reason``: the note)

    def __post_init__(self) -> None:
        check_id("command_id", self.command_id)
        if self.label is not None:
            if self.action not in ("ack", "resolve"):
                raise ValidationError("label", f"a label goes with `ack` or `resolve`, not "
                                      f"`{self.action}`")
            if self.label not in LABELS:
                raise ValidationError("label", f"unknown label {self.label!r:.40} (known: "
                                      f"{', '.join(LABELS)})")
        check_id("user", self.user)
        if self.display_name is not None:
            check_id("display_name", self.display_name)
        if self.action in ("ack", "resolve", "note"):
            if not self.alert_id:
                raise ValidationError(
                    "alert_id", f"`{self.action}` needs the alert_id it applies to")
            split_alert_id(self.alert_id)
        if self.action == "note" and not (self.text and self.text.strip()):
            raise ValidationError("text", "`note` needs a non-empty text")
        if self.action == "silence":
            if not self.matchers:
                raise ValidationError(
                    "matchers", "`silence` needs matchers, e.g. {\"group\": \"traffic\"}")
            check_matchers(self.matchers)
            if self.until is None or self.until <= self.ts:
                raise ValidationError("until", "`silence` needs an end time after `ts`")
        if self.action == "unsilence":
            if not self.silence_id:
                raise ValidationError(
                    "silence_id", "`unsilence` needs the silence_id it lifts")
            check_id("silence_id", self.silence_id)

    @property
    def role(self) -> str:
        """The role part of ``user`` (``operator`` of ``operator:north-desk``)."""
        return self.user.partition(":")[0]




class SilenceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A silence as made by ``silence`` command ``silence_id``: alerts whose fields equal all
    ``matchers`` are held ``silenced`` before ``until``, unless an ``unsilence`` lifted it
    (``lifted_at``, by ``lifted_by``). Workers keep it (:mod:`streams.silences`), the wall
    lists it (:mod:`dashboards.state`)."""

    silence_id: str
    matchers: dict[str, str]
    until: float
    user: str
    reason: str
    created: float
    lifted_at: float | None = None
    lifted_by: str | None = None
    display_name: str | None = None    # the name of ``user`` (older records: None)
    lifted_by_name: str | None = None  # the name of ``lifted_by``


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message refused by a worker, with why and where it came from."""

    reason: str
    field: str
    topic: str
    partition: int
    offset: int
    raw: bytes
    ts: float


IndicatorRecord = WindowSummary | GroupIndicator
AlertRecord = Alert | Incident

_reading = msgspec.json.Decoder(Reading)
_readings = msgspec.json.Decoder(list[Reading])
_indicator = msgspec.json.Decoder(IndicatorRecord)
_indicators = msgspec.json.Decoder(IndicatorRecord | list[WindowSummary])
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
    """The records of one ``ioc.indicators`` message: a record, or a pack of summaries.

    >>> pack = encode([WindowSummary("traffic", "trf-HC-01", "speed", "Hai Chau", 0.0, 60.0,
    ...                              6, 31.5, 29.0, 34.0, 30.0, 1.5)])
    >>> [(s.source, s.count) for s in decode_indicators(pack)]
    [('trf-HC-01', 6)]
    """
    got = _decoder(_indicators, raw)
    return got if isinstance(got, list) else [got]


def decode_alert(raw: bytes) -> AlertRecord:
    """A record of ``ioc.alerts`` (an Alert or an Incident)."""
    return _decoder(_alert, raw)


def decode_command(raw: bytes) -> Command:
    """A record of ``ioc.commands``."""
    return _decoder(_command, raw)


def decode_deadletter(raw: bytes) -> DeadLetter:
    """A record of ``ioc.deadletter``."""
    return _decoder(_deadletter, raw)


