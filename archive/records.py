"""Pure: the records of one poll of the archive's topics, turned into the rows of one batch.

:class:`Batch` takes raw Kafka records (topic kind, topic, partition, offset, bytes) and keeps
what the store writes in one transaction: alert and incident versions, commands, refusals of
commands (a worker's dead letter about an ``ioc.commands`` record), dead-letter counts per
hour, indicator roll-ups per hour and per day (already summed within the batch), records it
could not decode, and the next offset of every partition it saw.

Roll-ups keep, per (resolution, bucket, group, district, metric): windows, readings, the sum
of values, min, max and the last value with its time; the mean is ``total / readings``
(measured metrics, ``total`` sums ``mean * count``) or ``total / windows`` (counted ones).
Group indicators roll up as metrics named ``kpi:<name>`` and ``sources:reporting`` /
``sources:expected`` / ``sources:in_breach``, and their open alerts as ``alerts:open``.
Days are Da Nang days (UTC+7).

>>> from ioc.events import WindowSummary, encode
>>> b = Batch()
>>> b.add("indicators", "ioc.indicators", 0, 41, encode([
...     WindowSummary("traffic", "trf-HC-01", "speed", "Hai Chau", 3600.0, 3660.0,
...                   6, 30.0, 20.0, 40.0, 35.0, 5.0),
...     WindowSummary("traffic", "trf-HC-02", "speed", "Hai Chau", 3600.0, 3660.0,
...                   2, 50.0, 45.0, 55.0, 55.0, 5.0)]))
>>> r = b.rollups[("h", 3600.0, "traffic", "Hai Chau", "speed")]
>>> r.windows, r.readings, r.total / r.readings, r.min, r.max, r.last
(2, 8, 35.0, 20.0, 55.0, 55.0)
>>> b.offsets
{('ioc.indicators', 0): 42}
>>> b.add("alerts", "ioc.alerts", 1, 7, b"not json")
>>> b.rejects[0]["reason"][:17], b.offsets[("ioc.alerts", 1)]
('$: not valid JSON', 8)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from ioc.errors import ValidationError
from ioc.events import (
    Alert,
    Command,
    GroupIndicator,
    Incident,
    WindowSummary,
    decode_alert,
    decode_command,
    decode_deadletter,
    decode_indicators,
    encode,
)

__all__ = ["Batch", "Kind", "Rollup", "day_of", "hour_of", "login_of", "reason_kind"]

Kind = Literal["alerts", "commands", "indicators", "deadletter"]
RollupKey = tuple[str, float, str, str, str]  # resolution, bucket, group, district, metric

LOCAL_OFFSET_S = 7 * 3600  # Da Nang is UTC+7 all year
MAX_REJECT_BYTES = 65_536
_REASON_CUT = re.compile(r"['\"0-9\[{(]")


def hour_of(ts: float) -> float:
    """The start of the UTC hour holding ``ts``.

    >>> hour_of(7199.0)
    3600.0
    """
    return ts - ts % 3600.0


def day_of(ts: float) -> float:
    """The start (epoch seconds) of the Da Nang day holding ``ts``.

    >>> day_of(17 * 3600.0) / 3600   # 00:00 on 2 January 1970 in Da Nang is 17:00 UTC
    17.0
    """
    local = ts + LOCAL_OFFSET_S
    return local - local % 86400.0 - LOCAL_OFFSET_S


def login_of(user: str | None) -> str | None:
    """The login in a record's ``user`` (``role:login``); None when it names only a role (a
    shared token) or no one.

    >>> login_of("operator:lan"), login_of("operator"), login_of(None)
    ('lan', None, None)
    """
    if not user:
        return None
    return user.partition(":")[2][:64] or None


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its values (a low-cardinality key for the counts).

    >>> reason_kind("$[3].district: unknown district 'Da Lat' (known: Hai Chau, ...)")
    '$.district: unknown district'
    >>> reason_kind("epoch seconds 4102444801.0 outside years 2000-2100")
    'epoch seconds'
    """
    text = re.sub(r"\[\d+\]", "", reason)
    cut = _REASON_CUT.search(text)
    if cut is not None and cut.start() > 0:
        text = text[:cut.start()]
    return text.strip()[:96] or "unknown"


@dataclass(slots=True)
class Rollup:
    """One roll-up row being summed (see the module docstring)."""

    counted: bool
    windows: int = 0
    readings: int = 0
    total: float = 0.0
    min: float | None = None
    max: float | None = None
    last: float | None = None
    last_ts: float | None = None

    def add(self, n: int, total: float, lo: float, hi: float, last: float, ts: float) -> None:
        """Fold one window in (``n`` readings, their ``total``, min, max, last value)."""
        self.windows += 1
        self.readings += n
        self.total += total
        if not (self.counted or n):
            return  # an empty window of a measured metric has no values
        if self.min is None or lo < self.min:
            self.min = lo
        if self.max is None or hi > self.max:
            self.max = hi
        if self.last_ts is None or ts >= self.last_ts:
            self.last, self.last_ts = last, ts


@dataclass
class Batch:
    """The rows of one poll, ready for :meth:`archive.store.Store.write`."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    deadletters: Counter[tuple[float, str, str]] = field(default_factory=Counter)
    rollups: dict[RollupKey, Rollup] = field(default_factory=dict)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    records: int = 0

    def __len__(self) -> int:
        return self.records

    def add(self, kind: Kind, topic: str, partition: int, offset: int, value: bytes | None,
            now: float = 0.0) -> None:
        """Take one Kafka record (never raises: what cannot be decoded becomes a reject)."""
        self.records += 1
        self.offsets[(topic, partition)] = offset + 1
        raw = value or b""
        try:
            if kind == "alerts":
                self._alert(decode_alert(raw), raw)
            elif kind == "commands":
                self._command(decode_command(raw), raw, topic, partition, offset)
            elif kind == "indicators":
                for rec in decode_indicators(raw):
                    if isinstance(rec, WindowSummary):
                        self._summary(rec)
                    else:
                        self._indicator(rec)
            else:
                self._deadletter(raw)
        except (ValidationError, msgspec.DecodeError, ValueError, TypeError) as exc:
            self.rejects.append({"topic": topic, "partition": partition, "offset": offset,
                                 "reason": str(exc)[:1000], "raw": raw[:MAX_REJECT_BYTES],
                                 "ts": now})

    # --- one record kind each ----------------------------------------------------------------
    def _alert(self, rec: Alert | Incident, raw: bytes) -> None:
        record = raw.decode()  # valid JSON: it decoded; kept as it came
        if isinstance(rec, Incident):
            self.incidents.append({
                "incident_id": rec.incident_id, "version": rec.version, "status": rec.status,
                "district": rec.district, "severity": rec.severity, "title": rec.title,
                "groups": ",".join(rec.groups), "first_seen": rec.first_seen,
                "last_seen": rec.last_seen, "updated_at": rec.updated_at,
                "record": record})
            return
        note = rec.notes[-1].text if rec.change == "note" and rec.notes else None
        self.alerts.append({
            "alert_id": rec.alert_id, "version": rec.version, "status": rec.status,
            "severity": rec.severity, "category": rec.category, "group_slug": rec.group,
            "district": rec.district, "source": rec.source, "metric": rec.metric,
            "detector": rec.detector, "title": rec.title, "change": rec.change,
            "first_seen": rec.first_seen, "last_seen": rec.last_seen,
            "updated_at": rec.updated_at, "user_name": rec.user, "reason": rec.reason,
            "note": note, "record": record, "login": login_of(rec.user),
            "display_name": rec.display_name})

    def _command(self, cmd: Command, raw: bytes, topic: str, partition: int, offset: int
                 ) -> None:
        self.commands.append({
            "command_id": cmd.command_id, "action": cmd.action, "user_name": cmd.user,
            "ts": cmd.ts, "alert_id": cmd.alert_id, "reason": cmd.reason, "text": cmd.text,
            "matchers": None if cmd.matchers is None else encode(cmd.matchers).decode(),
            "until": cmd.until, "silence_id": getattr(cmd, "silence_id", None),
            "topic": topic, "partition": partition, "offset": offset, "result": None,
            "record": raw.decode(), "login": login_of(cmd.user),
            "display_name": cmd.display_name})

    def _deadletter(self, raw: bytes) -> None:
        dead = decode_deadletter(raw)
        self.deadletters[(hour_of(dead.ts), dead.topic, reason_kind(dead.reason))] += 1
        if dead.topic.endswith(".commands"):
            self.refusals.append({"d_topic": dead.topic, "d_partition": dead.partition,
                                  "d_offset": dead.offset,
                                  "result": f"refused: {dead.field}: {dead.reason}"[:1000]})

    def _rollup(self, group: str, district: str, metric: str, ts: float, counted: bool,
                n: int, total: float, lo: float, hi: float, last: float) -> None:
        for key in (("h", hour_of(ts), group, district, metric),
                    ("d", day_of(ts), group, district, metric)):
            r = self.rollups.get(key)
            if r is None:
                r = self.rollups[key] = Rollup(counted)
            r.add(n, total, lo, hi, last, ts)

    def _summary(self, s: WindowSummary) -> None:
        if s.counted:
            v = float(s.count)
            self._rollup(s.group, s.district, s.metric, s.start, True, s.count, v, v, v, v)
        elif s.count and math.isfinite(s.mean):
            self._rollup(s.group, s.district, s.metric, s.start, False, s.count,
                         s.mean * s.count, s.min, s.max, s.last)
        else:
            self._rollup(s.group, s.district, s.metric, s.start, False, 0, 0.0, 0.0, 0.0, 0.0)

    def _indicator(self, ind: GroupIndicator) -> None:
        values = {f"kpi:{k}": v for k, v in ind.kpis.items()}
        values["sources:reporting"] = float(ind.sources_reporting)
        values["sources:expected"] = float(ind.sources_expected)
        values["sources:in_breach"] = float(ind.sources_in_breach)
        values["alerts:open"] = float(sum(ind.open_alerts.values()))
        for metric, v in values.items():
            if math.isfinite(v):
                self._rollup(ind.group, ind.district, metric, ind.start, False, 1, v, v, v, v)
