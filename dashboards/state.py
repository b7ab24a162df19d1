"""The dashboard's current state, rebuilt from ``ioc.alerts``, ``ioc.indicators`` and the
silences of ``ioc.commands``.

Open alerts and incidents (applied by (id, version): older or equal versions are ignored),
the latest :class:`~ioc.events.GroupIndicator` per (group, district), a 24-hour history of
indicators at 5-minute resolution for trends (:mod:`dashboards.trends`), and 24-hour alert
statistics (alerts opened by severity, MTTA and MTTR city-wide and per group, noisiest
detectors), and the silences in force (:mod:`dashboards.silences`). Time is event time: "the
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

from collections import deque
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

import msgspec

from archive.accounts import Scope
from dashboards.silences import Silences, SilenceView
from dashboards.summary import summarize
from dashboards.trends import DistrictPoints, GroupPoints, Series, Trends
from ioc.events import Alert, Command, GroupIndicator, Incident, WindowSummary

__all__ = ["DAY_S", "Record", "SilenceView", "State", "encode"]

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


class State:
    """Everything a snapshot or a summary is built from."""

    def __init__(self, *, bucket_s: float = BUCKET_S, span_s: float = DAY_S,
                 max_silence_s: float = DAY_S, operators_may_silence_broadly: bool = False) -> None:
        self.bucket_s = bucket_s
        self.span_s = span_s
        self.silences = Silences(max_silence_s=max_silence_s,
                                 operators_may_silence_broadly=operators_may_silence_broadly)
        self.alert_versions: dict[str, int] = {}
        self.alert_districts: dict[str, str] = {}    # every alert seen (scope checks)
        self.alerts: dict[str, Alert] = {}           # open alerts only
        self.incident_versions: dict[str, int] = {}
        self.incidents: dict[str, Incident] = {}     # open incidents only
        self.latest: dict[tuple[str, str], GroupIndicator] = {}
        self.timeline = Trends(bucket_s=bucket_s, span_s=span_s)
        self.events: deque[_Event] = deque()
        self.as_of = 0.0
        self.changes = 0        # grows with every applied record (cache key)
        self.windows_seen = 0

    @property
    def trends(self) -> dict[tuple[str, str], Series]:
        """The indicator of every 5-minute bucket of the last 24 hours, per (group,
        district)."""
        return self.timeline.series

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
        changed, prev = self.silences.apply(cmd, as_of=self.as_of,
                                            district_of=self.alert_districts.get)
        if changed:
            self.changes += 1
        return changed, prev

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
        if held is not None and (gi.end < held.end or gi == held):
            if gi.end < held.end:
                self.timeline.fill(gi)  # a late window still fills a hole in the trend
            return False
        self.latest[key] = gi
        self._advance(gi.end)
        self.timeline.put(gi, as_of=self.as_of)
        self.changes += 1
        return True

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

    def silence_of(self, cmd: Command) -> SilenceView | None:
        """The view a ``silence``/``unsilence`` command made or changed."""
        return self.silences.of(cmd)

    def silence_matchers(self, silence_id: str) -> dict[str, str] | None:
        """The matchers of a silence held (in force or lifted), else None."""
        return self.silences.matchers(silence_id)

    def active_silences(self) -> list[SilenceView]:
        """Silences in force (not lifted, not ended at the state's time), ending soonest
        first."""
        return self.silences.active(as_of=self.as_of)

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
        return self.timeline.history(group, district, districts, as_of=self.as_of)

    def trend_points(self) -> tuple[GroupPoints, DistrictPoints]:
        """The 5-minute points of the last 24 hours (:meth:`dashboards.trends.Trends.points`):
        only buckets touched since the last call are recomputed."""
        return self.timeline.points(as_of=self.as_of)

    def summary(self, scope: Scope | None = None) -> dict[str, Any]:
        """The leadership summary (``/api/summary`` and the ``summary`` frame): headline
        figures, one entry per catalog group and one per catalog district, each with its
        24-hour trend; of ``scope``'s alerts and indicators only when given
        (:func:`dashboards.summary.summarize`)."""
        return summarize(self) if scope is None else summarize(self, scope)


_encoder = msgspec.json.Encoder()


def encode(obj: Any) -> bytes:
    """JSON bytes of a snapshot/summary body (records inside are msgspec Structs)."""
    return _encoder.encode(obj)
