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

import math
import re
from datetime import datetime
from typing import Any, Literal

import msgspec
from msgspec.structs import force_setattr

from ioc import catalog
from ioc.errors import ValidationError

MAX_MESSAGE_BYTES = 1_048_576
MAX_PACK = 10_000
MAX_ID = 128
MIN_TS = 946_684_800.0    # 2000-01-01
MAX_TS = 4_102_444_800.0  # 2100-01-01
MAX_JSON_DEPTH = 32       # no record of the contract nests deeper than 4

Severity = Literal["info", "warning", "major", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "major", "critical")
AlertStatus = Literal["firing", "acknowledged", "resolved", "silenced"]
Category = Literal["city", "sensor_health"]

AttrValue = str | int | float | bool


def _check_id(field: str, text: str) -> None:
    if not text or len(text) > MAX_ID or not text.isprintable():
        raise ValidationError(field, f"must be 1-{MAX_ID} printable characters, got {text!r:.60}")


def parse_ts(field: str, raw: float | str) -> float:
    """Epoch seconds from epoch seconds or an RFC 3339 string with a UTC offset.

    >>> parse_ts("ts", "2026-11-23T12:00:00+07:00")
    1795410000.0
    >>> parse_ts("ts", "2026-11-23 12:00")
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: ts: needs a UTC offset such as Z or +07:00, got '2026-11-23 12:00'
    """
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValidationError(field, f"not an RFC 3339 timestamp: {raw!r:.60}") from None
        if moment.tzinfo is None:
            raise ValidationError(field, f"needs a UTC offset such as Z or +07:00, got {raw!r:.60}")
        value = moment.timestamp()
    else:
        value = float(raw)
    if not MIN_TS <= value <= MAX_TS:
        raise ValidationError(field, f"epoch seconds {value!r} outside years 2000-2100")
    return value


class Reading(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
              omit_defaults=True):
    """One sensor reading or one counted service event.

    ``ts`` may arrive as epoch seconds or RFC 3339; it is always epoch seconds once decoded.
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
        spec = catalog.group(self.group).metric(self.metric)
        _check_id("source", self.source)
        if self.district not in catalog.DISTRICT_NAMES:
            catalog.district(self.district)  # raises with the known names
        if spec.counted:
            if self.value is not None:
                raise ValidationError(
                    "value", f"{self.metric!r} counts events: send `kind`, not `value`")
            if self.kind is None:
                raise ValidationError(
                    "kind", f"{self.metric!r} counts events: `kind` is required "
                    f"(one of {', '.join(spec.event_kinds)})")
            _check_id("kind", self.kind)
        else:
            if self.kind is not None:
                raise ValidationError(
                    "kind", f"{self.metric!r} is measured: send `value`, not `kind`")
            if self.value is None:
                raise ValidationError("value", f"{self.metric!r} is measured: `value` is required")
            if not math.isfinite(self.value):
                raise ValidationError("value", f"must be a finite number, got {self.value!r}")
        if self.lat is not None and not -90.0 <= self.lat <= 90.0:
            raise ValidationError("lat", f"must be within -90..90, got {self.lat!r}")
        if self.lon is not None and not -180.0 <= self.lon <= 180.0:
            raise ValidationError("lon", f"must be within -180..180, got {self.lon!r}")
        if not isinstance(self.ts, float) or not MIN_TS <= self.ts <= MAX_TS:
            force_setattr(self, "ts", parse_ts("ts", self.ts))

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
    """Why a detector fired: the window, the baseline, the threshold and the recent values."""

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


class Note(msgspec.Struct, frozen=True, kw_only=True):
    """A free-text note an operator attached to an alert."""

    ts: float
    user: str
    text: str


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

    def __post_init__(self) -> None:
        _check_id("command_id", self.command_id)
        _check_id("user", self.user)
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
            _check_id("silence_id", self.silence_id)

    @property
    def role(self) -> str:
        """The role part of ``user`` (``operator`` of ``operator:north-desk``)."""
        return self.user.partition(":")[0]


SILENCE_FIELDS = frozenset({"alert_id", "group", "district", "source", "metric", "detector",
                            "category", "severity"})
NARROW_SILENCE_FIELDS = frozenset({"alert_id", "group", "district"})
BROAD_SILENCE_ROLES = frozenset({"supervisor"})
CATEGORIES: tuple[str, ...] = ("city", "sensor_health")
_DISTRICTS: tuple[str, ...] = tuple(d.name for d in catalog.DISTRICTS)


def check_matchers(matchers: dict[str, str]) -> None:
    """Raise :class:`~ioc.errors.ValidationError` (field ``matchers.<name>``) unless every
    matcher names a silence field and a value an alert can have: a catalog group, district,
    severity or category, a well-formed alert id; sources, metrics and detectors 1-128
    printable characters.

    >>> check_matchers({"group": "traffic", "district": "Hai Chau", "source": "cam:HC:02"})
    >>> check_matchers({"category": "roads"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: matchers.category: unknown category 'roads' (known: city, ...)
    """
    unknown = set(matchers) - SILENCE_FIELDS
    if unknown:
        raise ValidationError(
            "matchers", f"unknown fields {sorted(unknown)}; "
            f"use {', '.join(sorted(SILENCE_FIELDS))}")
    known: dict[str, tuple[str, ...]] = {
        "group": catalog.GROUP_SLUGS, "district": _DISTRICTS,
        "severity": SEVERITIES, "category": CATEGORIES}
    for name, value in matchers.items():
        field = f"matchers.{name}"
        if name in known:
            if value not in known[name]:
                raise ValidationError(field, f"unknown {name} {value!r:.60} "
                                      f"(known: {', '.join(known[name])})")
        elif name == "alert_id":
            _, group, _, _ = split_alert_id(value, field)
            if group not in catalog.GROUP_SLUGS:
                raise ValidationError(field, f"unknown group {group!r:.60} in the alert id")
        else:
            _check_id(field, value)


def silence_is_broad(matchers: dict[str, str]) -> bool:
    """True for a silence that names no group, no district and no alert: it can hold alerts
    of every group in every district (``{"category": "city"}``, ``{"source": ...}``).

    >>> silence_is_broad({"category": "city"}), silence_is_broad({"group": "traffic"})
    (True, False)
    """
    return not NARROW_SILENCE_FIELDS & matchers.keys()


def check_silence_policy(cmd: Command, *, max_silence_s: float,
                         operators_may_silence_broadly: bool) -> None:
    """Raise :class:`~ioc.errors.ValidationError` when a ``silence`` command is longer than
    ``max_silence_s`` (field ``until``) or broader than one group or one district
    (:func:`silence_is_broad`) without a role in :data:`BROAD_SILENCE_ROLES` (operators
    only when ``operators_may_silence_broadly``; field ``matchers``). Other commands pass.

    >>> cmd = Command(command_id="c1", action="silence", user="operator", ts=0.0,
    ...               until=3600.0, matchers={"category": "city"})
    >>> check_silence_policy(cmd, max_silence_s=86400.0, operators_may_silence_broadly=True)
    >>> check_silence_policy(cmd, max_silence_s=600.0, operators_may_silence_broadly=True)
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: until: a silence may last at most 600 s, this one 3600 s
    """
    if cmd.action != "silence" or cmd.until is None or not cmd.matchers:
        return
    length = cmd.until - cmd.ts
    if length > max_silence_s:
        raise ValidationError("until", f"a silence may last at most {max_silence_s:g} s, "
                              f"this one {length:g} s")
    if silence_is_broad(cmd.matchers) and cmd.role not in BROAD_SILENCE_ROLES and not (
            operators_may_silence_broadly and cmd.role == "operator"):
        raise ValidationError(
            "matchers", "a silence without a group, district or alert_id matcher holds alerts "
            "city-wide: it needs the supervisor role (IOC_OPERATORS_MAY_SILENCE_BROADLY lets "
            "operators)")


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


def _translate(exc: msgspec.DecodeError) -> ValidationError:
    text = str(exc)
    where = "$"
    if " - at `" in text:
        text, _, tail = text.partition(" - at `")
        where = tail.rstrip("`")
    if not isinstance(exc, msgspec.ValidationError):
        return ValidationError("$", f"not valid JSON: {text}")
    named = re.search(r"(missing required|unknown) field `([^`]+)`", text)
    if named:
        where = f"{where}.{named.group(2)}"
        text = "required field is missing" if named.group(1) == "missing required" else (
            "unknown field (the contract does not allow extra fields)")
    return ValidationError(where, text[0].lower() + text[1:])


def _located(exc: ValidationError, prefix: str) -> ValidationError:
    field = exc.field if exc.field.startswith("$") else f"{prefix}.{exc.field}"
    return ValidationError(field, exc.reason)


def decode_readings(raw: bytes) -> list[Reading]:
    """Decode one message: a reading or a pack of readings. Raise
    :class:`~ioc.errors.ValidationError` naming the first bad field (``$[i].field`` in packs).
    """
    size = len(raw)
    if size == 0:
        raise ValidationError("$", "empty message")
    if size > MAX_MESSAGE_BYTES:
        raise ValidationError("$", f"message is {size} bytes, over the {MAX_MESSAGE_BYTES} limit")
    first = raw.lstrip()[:1]
    try:
        if first == b"[":
            try:
                readings = _readings.decode(raw)
            except ValidationError as exc:
                raise _located(exc, _pack_index(raw, exc)) from None
            if not readings:
                raise ValidationError("$", "empty pack")
            if len(readings) > MAX_PACK:
                raise ValidationError("$", f"pack of {len(readings)} readings, over {MAX_PACK}")
            return readings
        if first == b"{":
            try:
                return [_reading.decode(raw)]
            except ValidationError as exc:
                raise _located(exc, "$") from None
        raise ValidationError("$", "expected a JSON object (a reading) or array (a pack)")
    except msgspec.DecodeError as exc:
        raise _translate(exc) from None
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


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def check_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`~ioc.errors.ValidationError` (reason starting ``too deep``) when the JSON
    text ``raw`` nests arrays and objects more than ``limit`` levels deep.

    Strings are cut out and the brackets left are peeled one level per pass, at C speed
    (about 2 ms for a 50 KB pack: run it where decoding is not bound by a schema, not on the
    hot path). Unbalanced brackets at most ``limit`` deep are left for the decoder to refuse.

    >>> check_depth(b'{"a": [1, {"b": "[[[[["}]}', limit=3)
    >>> check_depth(b"[" * 40 + b"]" * 40)
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: $: too deep: JSON nested more than 32 levels
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    left = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        peeled = left.replace(b"[]", b"").replace(b"{}", b"")
        if peeled == left:  # unbalanced: deep, or for the decoder to refuse
            if len(left) <= limit:
                return
            break
        left = peeled
    if left:
        raise ValidationError("$", f"too deep: JSON nested more than {limit} levels")


def encode(record: msgspec.Struct | list[Any] | dict[str, Any]) -> bytes:
    """JSON bytes of any record, reading, pack or plain dict."""
    return _encoder.encode(record)


def _decoder(dec: msgspec.json.Decoder[Any], raw: bytes) -> Any:
    try:
        return dec.decode(raw)
    except msgspec.DecodeError as exc:
        raise _translate(exc) from None


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


_ID_ESCAPES = re.compile(r"%(25|3A)")


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(":", "%3A") if ("%" in part or ":" in part) \
        else part


def _unescape(part: str) -> str:
    return _ID_ESCAPES.sub(lambda m: "%" if m.group(1) == "25" else ":", part) \
        if "%" in part else part


def alert_id(detector: str, group: str, source: str, metric: str) -> str:
    """The stable dedup key of an alert: the four parts joined by ``:``, each with ``%`` and
    ``:`` percent-encoded (``%25``, ``%3A``), so every source id gives an unambiguous id and
    ordinary ids read as they always did. :func:`split_alert_id` is its exact inverse.

    >>> alert_id("robust_z", "flooding", "rain-HC-01", "rainfall")
    'robust_z:flooding:rain-HC-01:rainfall'
    >>> alert_id("robust_z", "wastewater", "pump:ST:01", "inflow")
    'robust_z:wastewater:pump%3AST%3A01:inflow'
    """
    return f"{_escape(detector)}:{_escape(group)}:{_escape(source)}:{_escape(metric)}"


def split_alert_id(aid: str, field: str = "alert_id") -> tuple[str, str, str, str]:
    """(detector, group, source, metric) of an alert id made by :func:`alert_id`; raise
    :class:`~ioc.errors.ValidationError` (on ``field``) if it is not four non-empty parts.

    >>> split_alert_id("robust_z:wastewater:pump%3AST%3A01:inflow")
    ('robust_z', 'wastewater', 'pump:ST:01', 'inflow')
    >>> split_alert_id("robust_z:wastewater:pump:ST:01:inflow")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: alert_id: expected detector:group:source:metric ...
    """
    parts = aid.split(":")
    if len(parts) != 4 or not all(parts):
        raise ValidationError(
            field, "expected detector:group:source:metric (a ':' inside a part is written "
            f"%3A, a '%' %25), got {aid!r:.80}")
    d, g, s, m = (_unescape(p) for p in parts)
    return d, g, s, m
