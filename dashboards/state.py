"""The dashboard's current state, rebuilt from ``ioc.alerts``, ``ioc.indicators`` and the
silences of ``ioc.commands``.

Open alerts and incidents (applied by (id, version): older or equal versions are ignored),
the latest :class:`~ioc.events.GroupIndicator` per (group, district), a 24-hour history of
indicators at 5-minute resolution for trends, and 24-hour alert statistics (alerts opened by
severity, MTTA and MTTR city-wide and per group, noisiest detectors), and the silences in force
(:class:`SilenceView`, from ``silence`` and ``unsilence`` commands the worker's policy accepts:
the same checks, :func:`ioc.events.check_silence_policy`). Time is event time: "the
last 24 hours" end at the newest record's timestamp, never at the server's clock. Pure and
synchronous.

>>> from ioc.events import GroupIndicator
>>> st = State()
>>> gi = GroupIndicator(group="flooding", district="Hai Chau", start=1795409940.0,
...                     end=1795410000.0, sources_reporting=6, sources_expected=6,
...                     sources_in_breach=1, open_alerts={},
...                     kpis={"flooded_points": 1.0, "max_depth": 31.0})
>>> st.apply(gi)
(True, None)
>>> st.apply(gi)[0]   # the same window again changes nothing
False
>>> st.history("flooding", None)["points"][0]["kpis"]
{'flooded_points': 1.0, 'max_depth': 31.0}
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Collection, Iterable
from typing import Any, NamedTuple

import msgspec

from archive.accounts import Scope
from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import (
    Alert,
    Command,
    GroupIndicator,
    Incident,
    SilenceRecord,
    WindowSummary,
    check_silence_policy,
)


class SilenceView(SilenceRecord, frozen=True, kw_only=True, tag="silence"):
    """A silence as the wall lists it (tagged ``silence`` in frames): made by ``silence``
    command ``silence_id``, lifted by an ``unsilence`` or ended at ``until``.
    ``alert_district``: the district of the alert its ``alert_id`` matcher names, when the
    dashboard knows it (so that scopes place the silence; None otherwise)."""

    alert_district: str | None = None


Record = Alert | Incident | GroupIndicator | WindowSummary | SilenceView
DAY_S = 86_400.0
BUCKET_S = 300.0
OPEN_STATUSES = frozenset({"firing", "acknowledged", "silenced"})


class _Event(NamedTuple):
    ts: float
    what: str                 # opened | acknowledged | resolved
    severity: str
    detector: str
    seconds: float            # time since first_seen (for acknowledged / resolved)
    group: str
    district: str


def _combine_ops(group: str) -> dict[str, str]:
    """How each KPI of a group combines across districts: sum, max or mean."""
    try:
        kpis = catalog.group(group).kpis
    except Exception:  # an unknown group still shows, combined by mean
        return {}
    table = {"sum": "sum", "breach": "sum", "max": "max", "mean": "mean", "ratio": "mean"}
    return {k.name: table[k.op] for k in kpis}


def combine(group: str, indicators: Iterable[GroupIndicator]) -> dict[str, Any]:
    """City-wide figures of a group from one indicator per district.

    >>> from ioc.events import GroupIndicator
    >>> def gi(d, depth, points):
    ...     return GroupIndicator(group="flooding", district=d, start=0.0, end=60.0,
    ...         sources_reporting=5, sources_expected=6, sources_in_breach=points,
    ...         open_alerts={"major": points}, kpis={"max_depth": depth,
    ...                                               "flooded_points": points})
    >>> combine("flooding", [gi("Hai Chau", 31.0, 2), gi("Son Tra", 12.0, 1)])["kpis"]
    {'max_depth': 31.0, 'flooded_points': 3.0}
    """
    ops = _combine_ops(group)
    values: dict[str, list[float]] = {}
    reporting = expected = breach = alerts = 0
    for gi in indicators:
        reporting += gi.sources_reporting
        expected += gi.sources_expected
        breach += gi.sources_in_breach
        alerts += sum(gi.open_alerts.values())
        for name, value in gi.kpis.items():
            if math.isfinite(value):
                values.setdefault(name, []).append(value)
    kpis: dict[str, float] = {}
    for name, vals in values.items():
        op = ops.get(name, "mean")
        kpis[name] = float(sum(vals)) if op == "sum" else (
            max(vals) if op == "max" else sum(vals) / len(vals))
    return {"kpis": kpis, "sources_reporting": reporting, "sources_expected": expected,
            "sources_in_breach": breach, "open_alerts": alerts}


class State:
    """Everything a snapshot or a summary is built from."""

    def __init__(self, *, bucket_s: float = BUCKET_S, span_s: float = DAY_S,
                 max_silence_s: float = DAY_S, operators_may_silence_broadly: bool = False) -> None:
        self.bucket_s = bucket_s
        self.span_s = span_s
        self.max_silence_s = max_silence_s
        self.operators_may_silence_broadly = operators_may_silence_broadly
        self.silences: dict[str, SilenceView] = {}   # in force or lifted, until they end
        self.alert_versions: dict[str, int] = {}
        self.alert_districts: dict[str, str] = {}    # every alert seen (scope checks)
        self.alerts: dict[str, Alert] = {}           # open alerts only
        self.incident_versions: dict[str, int] = {}
        self.incidents: dict[str, Incident] = {}     # open incidents only
        self.latest: dict[tuple[str, str], GroupIndicator] = {}
        self.trends: dict[tuple[str, str], dict[int, GroupIndicator]] = {}
        self.events: deque[_Event] = deque()
        self.as_of = 0.0
        self.changes = 0        # grows with every applied record (cache key)
        self.windows_seen = 0
        # the summary's trend points, per bucket, recomputed only for the buckets touched
        # since the last summary (a day of indicators is ~35,000 records)
        self._districts_of: dict[str, set[str]] = {}   # group -> districts with a series
        self._groups_in: dict[str, set[str]] = {}      # district -> groups with a series
        self._dirty_groups: set[tuple[str, int]] = set()
        self._dirty_districts: set[tuple[str, int]] = set()
        self._group_points: dict[str, dict[int, dict[str, float]]] = {}
        self._district_points: dict[str, dict[int, tuple[int, int]]] = {}

    # --- applying records -------------------------------------------------------------------

    def apply(self, record: Record | Command) -> tuple[bool, Record | None]:
        """Apply one record. Returns (whether it changed anything and should be published,
        the previous version of the same alert/incident if one was held). A command is
        applied as the :class:`SilenceView` it makes or lifts: call :meth:`silence_of` for the
        view to publish."""
        if isinstance(record, Command):
            return self._apply_command(record)
        if isinstance(record, Alert):
            return self._apply_alert(record)
        if isinstance(record, Incident):
            return self._apply_incident(record)
        if isinstance(record, GroupIndicator):
            return self._apply_indicator(record), None
        if isinstance(record, WindowSummary):
            self.windows_seen += 1
            self._advance(record.end)
            return True, None
        if isinstance(record, SilenceView):
            return False, None  # views are made from commands, never applied
        raise TypeError(f"not a dashboard record: {type(record).__name__}")

    def _apply_alert(self, a: Alert) -> tuple[bool, Alert | None]:
        held = self.alert_versions.get(a.alert_id)
        if held is not None and a.version <= held:
            return False, None
        self.alert_versions[a.alert_id] = a.version
        self.alert_districts[a.alert_id] = a.district
        prev = self.alerts.get(a.alert_id)
        if a.status in OPEN_STATUSES:
            self.alerts[a.alert_id] = a
        else:
            self.alerts.pop(a.alert_id, None)
        self.changes += 1
        self._advance(a.updated_at)
        if a.change in ("opened", "reopened") or (held is None and a.status == "firing"):
            self._event(a, "opened", 0.0)
        if a.change == "acknowledged":
            self._event(a, "acknowledged", a.updated_at - a.first_seen)
        if a.status == "resolved" and (prev is not None or held is None):
            self._event(a, "resolved", a.updated_at - a.first_seen)
        return True, prev

    def _apply_command(self, cmd: Command) -> tuple[bool, Record | None]:
        """``silence`` adds a view (when the policy accepts it, as the worker does);
        ``unsilence`` marks it lifted; other commands change nothing here."""
        if cmd.action == "silence" and cmd.matchers and cmd.until is not None:
            if cmd.command_id in self.silences:
                return False, None
            try:
                check_silence_policy(
                    cmd, max_silence_s=self.max_silence_s,
                    operators_may_silence_broadly=self.operators_may_silence_broadly)
            except ValidationError:
                return False, None  # the worker refuses it too (dead-lettered there)
            self._prune_silences()
            self.silences[cmd.command_id] = SilenceView(
                silence_id=cmd.command_id, matchers=dict(cmd.matchers), until=cmd.until,
                user=cmd.user, reason=cmd.reason, created=cmd.ts, display_name=cmd.display_name,
                alert_district=self.alert_districts.get(cmd.matchers.get("alert_id", "")))
            self.changes += 1
            return True, None
        if cmd.action == "unsilence" and cmd.silence_id:
            held = self.silences.get(cmd.silence_id)
            if held is None or held.lifted_at is not None:
                return False, None
            self.silences[cmd.silence_id] = msgspec.structs.replace(
                held, lifted_at=cmd.ts, lifted_by=cmd.user, lifted_by_name=cmd.display_name)
            self.changes += 1
            return True, held
        return False, None

    def silence_of(self, cmd: Command) -> SilenceView | None:
        """The view a ``silence``/``unsilence`` command made or changed."""
        if cmd.action == "silence":
            return self.silences.get(cmd.command_id)
        if cmd.action == "unsilence" and cmd.silence_id:
            return self.silences.get(cmd.silence_id)
        return None

    def _prune_silences(self) -> None:
        if self.as_of:
            for sid in [k for k, s in self.silences.items() if s.until <= self.as_of]:
                del self.silences[sid]

    def active_silences(self) -> list[SilenceView]:
        """Silences in force (not lifted, not ended at the state's time), ending soonest
        first."""
        return sorted((s for s in self.silences.values()
                       if s.lifted_at is None and s.until > self.as_of),
                      key=lambda s: (s.until, s.silence_id))

    def _apply_incident(self, i: Incident) -> tuple[bool, Incident | None]:
        held = self.incident_versions.get(i.incident_id)
        if held is not None and i.version <= held:
            return False, None
        self.incident_versions[i.incident_id] = i.version
        prev = self.incidents.get(i.incident_id)
        if i.status == "open":
            self.incidents[i.incident_id] = i
        else:
            self.incidents.pop(i.incident_id, None)
        self.changes += 1
        self._advance(i.updated_at)
        return True, prev

    def _apply_indicator(self, gi: GroupIndicator) -> bool:
        key = (gi.group, gi.district)
        held = self.latest.get(key)
        bucket = int(gi.start // self.bucket_s)
        series = self.trends.get(key)
        if series is None:
            series = self.trends[key] = {}
            self._districts_of.setdefault(gi.group, set()).add(gi.district)
            self._groups_in.setdefault(gi.district, set()).add(gi.group)
        if held is not None and (gi.end < held.end or gi == held):
            if gi.end < held.end and bucket not in series:
                series[bucket] = gi  # a late window still fills a hole in the trend
                self._touch(gi, bucket)
            return False
        self.latest[key] = gi
        series[bucket] = gi
        self._touch(gi, bucket)
        self._advance(gi.end)
        if len(series) > self.span_s / self.bucket_s + 2:
            floor = int((self.as_of - self.span_s) // self.bucket_s)
            for old in [b for b in series if b < floor]:
                del series[old]
        self.changes += 1
        return True

    def _touch(self, gi: GroupIndicator, bucket: int) -> None:
        self._dirty_groups.add((gi.group, bucket))
        self._dirty_districts.add((gi.district, bucket))

    def _event(self, a: Alert, what: str, seconds: float) -> None:
        self.events.append(_Event(a.updated_at, what, a.severity, a.detector, max(0.0, seconds),
                                  a.group, a.district))

    def _advance(self, ts: float) -> None:
        if ts > self.as_of:
            self.as_of = ts
            floor = ts - self.span_s
            while self.events and self.events[0].ts < floor:
                self.events.popleft()

    # --- reading ----------------------------------------------------------------------------

    def knows_alert(self, alert_id: str) -> bool:
        """Whether any version of this alert has been seen."""
        return alert_id in self.alert_versions

    def district_of(self, alert_id: str) -> str | None:
        """The district of an alert seen (None: never seen)."""
        return self.alert_districts.get(alert_id)

    def severity_of(self, alert_id: str) -> str | None:
        """The severity of an open alert (None: not open)."""
        held = self.alerts.get(alert_id)
        return held.severity if held is not None else None

    def silence_matchers(self, silence_id: str) -> dict[str, str] | None:
        """The matchers of a silence held (in force or lifted), else None."""
        held = self.silences.get(silence_id)
        return dict(held.matchers) if held is not None else None

    def snapshot(self, accept: Callable[[Record], bool]) -> dict[str, list[Any]]:
        """The open alerts, open incidents, latest indicators and silences in force
        ``accept`` lets through."""
        return {
            "alerts": [a for a in self.alerts.values() if accept(a)],
            "incidents": [i for i in self.incidents.values() if accept(i)],
            "indicators": [gi for gi in self.latest.values() if accept(gi)],
            "silences": [s for s in self.active_silences() if accept(s)],
        }

    def history(self, group: str, district: str | None,
                districts: Collection[str] | None = None) -> dict[str, Any]:
        """The 24-hour trend of a group in one district (or city-wide when ``district`` is
        None: over ``districts`` only, when given), one point per 5-minute bucket, oldest
        first."""
        floor = int((self.as_of - self.span_s) // self.bucket_s)
        points: list[dict[str, Any]] = []
        if district is not None:
            series = self.trends.get((group, district), {})
            for bucket in sorted(b for b in series if b > floor):
                gi = series[bucket]
                points.append({"t": bucket * self.bucket_s, "kpis": dict(gi.kpis),
                               "sources_reporting": gi.sources_reporting,
                               "sources_expected": gi.sources_expected,
                               "sources_in_breach": gi.sources_in_breach,
                               "open_alerts": sum(gi.open_alerts.values())})
        else:
            by_bucket: dict[int, list[GroupIndicator]] = {}
            for (g, d), series in self.trends.items():
                if g != group or (districts is not None and d not in districts):
                    continue
                for bucket, gi in series.items():
                    if bucket > floor:
                        by_bucket.setdefault(bucket, []).append(gi)
            for bucket in sorted(by_bucket):
                points.append({"t": bucket * self.bucket_s,
                               **combine(group, by_bucket[bucket])})
        return {"group": group, "district": district, "bucket_s": self.bucket_s,
                "points": points}

    def trend_points(self) -> tuple[dict[str, dict[int, dict[str, float]]],
                                     dict[str, dict[int, tuple[int, int]]]]:
        """The 5-minute points of the last 24 hours: per group its city-wide KPIs (as
        ``history(group, None)``), per district the open alerts and sources in breach summed
        over its groups. Only buckets touched since the last call are recomputed; buckets
        older than 24 hours are dropped."""
        floor = int((self.as_of - self.span_s) // self.bucket_s)
        for slug, bucket in self._dirty_groups:
            if bucket > floor:
                here = [series[bucket] for d in self._districts_of.get(slug, ())
                        if bucket in (series := self.trends[(slug, d)])]
                self._group_points.setdefault(slug, {})[bucket] = combine(slug, here)["kpis"]
        for district, bucket in self._dirty_districts:
            if bucket > floor:
                alerts = breach = 0
                for slug in self._groups_in.get(district, ()):
                    gi = self.trends[(slug, district)].get(bucket)
                    if gi is not None:
                        alerts += sum(gi.open_alerts.values())
                        breach += gi.sources_in_breach
                self._district_points.setdefault(district, {})[bucket] = (alerts, breach)
        self._dirty_groups.clear()
        self._dirty_districts.clear()
        for cache in (self._group_points, self._district_points):
            for points in cache.values():
                if points and min(points) <= floor:
                    for old in [b for b in points if b <= floor]:
                        del points[old]
        return self._group_points, self._district_points

    def summary(self, scope: Scope | None = None) -> dict[str, Any]:
        """The leadership summary (``/api/summary`` and the ``summary`` frame): headline
        figures, one entry per catalog group and one per catalog district, each with its
        24-hour trend; of ``scope``'s alerts and indicators only when given
        (:func:`dashboards.summary.summarize`)."""
        from dashboards.summary import summarize

        return summarize(self) if scope is None else summarize(self, scope)


_encoder = msgspec.json.Encoder()


def encode(obj: Any) -> bytes:
    """JSON bytes of a snapshot/summary body (records inside are msgspec Structs)."""
    return _encoder.encode(obj)
