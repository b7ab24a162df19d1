"""Validation helpers of the event contract (:mod:`ioc.events` re-exports the public ones).

Ids, timestamps, JSON depth, alert ids, silence matchers and policy, and the checks a
:class:`~ioc.events.Reading` runs when it is made. Those run once per decoded reading, so a
reading tests its identity with look-ups in :data:`KNOWN_SOURCES` and calls the helpers
below only when a test fails or a source is new: they raise the contract's errors, with the
same field and words, in the same order.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from ioc import catalog
from ioc.errors import ValidationError

if TYPE_CHECKING:
    from ioc.commands import Command

MAX_ID = 128
MIN_TS = 946_684_800.0    # 2000-01-01
MAX_TS = 4_102_444_800.0  # 2100-01-01
MAX_JSON_DEPTH = 32       # no record of the contract nests deeper than 4
SEVERITIES: tuple[str, ...] = ("info", "warning", "major", "critical")


def check_id(field: str, text: str) -> None:
    """Raise unless ``text`` is 1-128 printable characters (an id: source, kind, user).

    >>> check_id("source", "a\\nb")
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: source: must be 1-128 printable characters, got 'a\\nb'
    """
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


COUNTED: dict[str, dict[str, bool]] = {
    g.slug: {m.name: m.counted for m in g.metrics} for g in catalog.CATALOG}
"""group -> metric -> whether it counts events (a measured one carries a value)."""
KNOWN_SOURCES: dict[str, tuple[str, str, dict[str, bool]]] = {}
"""source id -> (group, district, the group's :data:`COUNTED` table) of each source whose
reading :func:`reading_counted` accepted (up to :data:`KNOWN_SOURCES_MAX`, then it starts
again): a reading of a known source, in that group and district, of a metric in that table,
is valid on those four fields."""
KNOWN_SOURCES_MAX = 100_000


def reading_counted(group: str, metric: str, source: str, district: str) -> bool:
    """Whether ``metric`` of ``group`` counts events; raise on the first of group, metric,
    source id and district that is not valid, in that order. Remembers the source in
    :data:`KNOWN_SOURCES`, so its next reading needs only look-ups.

    >>> reading_counted("citizen_feedback", "tickets_opened", "cf-HC-01", "Hai Chau")
    True
    >>> reading_counted("flooding", "rainfall", "rain-HC-01", "Da Lat")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: district: unknown district 'Da Lat' (known: Hai Chau, ...)
    """
    counted = catalog.group(group).metric(metric).counted
    check_id("source", source)
    if district not in catalog.DISTRICT_NAMES:
        catalog.district(district)  # raises with the known names
    if len(KNOWN_SOURCES) >= KNOWN_SOURCES_MAX:
        KNOWN_SOURCES.clear()
    KNOWN_SOURCES[source] = (group, district, COUNTED[group])
    return counted


def check_value_kind(group: str, metric: str, value: float | None, kind: str | None) -> None:
    """Raise for a ``value``/``kind`` pair that does not suit ``metric`` of ``group``
    (measured: a finite value and no kind; counted: a kind id and no value).

    >>> check_value_kind("flooding", "rainfall", None, None)
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: value: 'rainfall' is measured: `value` is required
    """
    spec = catalog.group(group).metric(metric)
    if spec.counted:
        if value is not None:
            raise ValidationError("value", f"{metric!r} counts events: send `kind`, not `value`")
        if kind is None:
            raise ValidationError("kind", f"{metric!r} counts events: `kind` is required "
                                  f"(one of {', '.join(spec.event_kinds)})")
        check_id("kind", kind)
        return
    if kind is not None:
        raise ValidationError("kind", f"{metric!r} is measured: send `value`, not `kind`")
    if value is None:
        raise ValidationError("value", f"{metric!r} is measured: `value` is required")
    if not math.isfinite(value):
        raise ValidationError("value", f"must be a finite number, got {value!r}")


def check_position(lat: float | None, lon: float | None) -> None:
    """Raise unless ``lat`` is within -90..90 and ``lon`` within -180..180 (or None)."""
    if lat is not None and not -90.0 <= lat <= 90.0:
        raise ValidationError("lat", f"must be within -90..90, got {lat!r}")
    if lon is not None and not -180.0 <= lon <= 180.0:
        raise ValidationError("lon", f"must be within -180..180, got {lon!r}")


def translated(exc: msgspec.DecodeError) -> ValidationError:
    """The :class:`~ioc.errors.ValidationError` for a msgspec decoding error: where (``$``
    paths as msgspec writes them, a missing or unknown field appended) and why.

    >>> import msgspec
    >>> try:
    ...     msgspec.json.decode(b'{"a": 1}', type=dict[str, str])
    ... except msgspec.DecodeError as exc:
    ...     print(translated(exc))
    $[...]: expected `str`, got `int`
    """
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


def located(exc: ValidationError, prefix: str) -> ValidationError:
    """``exc`` with its field under ``prefix`` (``$[2]``) unless it is already a ``$`` path."""
    field = exc.field if exc.field.startswith("$") else f"{prefix}.{exc.field}"
    return ValidationError(field, exc.reason)


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
            check_id(field, value)


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

    >>> from ioc.events import Command
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
