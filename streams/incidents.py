"""Cross-group incidents: firing city alerts of two or more groups in one district, linked.

Pure and synchronous. The worker's incident agent reads ``ioc.alerts`` (keyed by district, so
one agent instance sees a whole district), feeds every record to
:meth:`IncidentLinker.on_alert`, and publishes the :class:`~ioc.events.Incident` records it
returns on ``ioc.alerts`` (key: the district). It ignores the Incident records it reads back
and sensor-health alerts (they go to engineers, not into city incidents).

**Rule.** An alert is *live* while its status is ``firing`` or ``acknowledged`` and its
``last_seen`` is within ``span_s`` of the district's clock (the latest ``updated_at`` seen
there). When live alerts of **two or more groups** exist in a district with no open incident,
one incident opens with all of them as members; while it is open every new live city alert
of the district joins it. Each change of its members, groups, severity (the highest of its
members', never lowered) or status is a new record with ``version`` + 1. It **closes** when
none of its members is live any more (all resolved or silenced, or quiet for ``span_s``).
``incident_id`` is ``inc:<district code>:<first member's first_seen>`` (a suffix ``.2``, ...
if that id was used before in the district).

State per district lives in a ``MutableMapping[str, bytes]`` passed in (a Faust table with
``value_type=bytes, value_serializer="raw"``, or a dict). Alert records are applied by
(alert_id, version): a version already applied changes nothing and returns the district's
current incident again if the alert is a member (identical record), so replays after a restart
neither lose nor fork an incident version.

>>> from ioc.events import Alert, Evidence
>>> ev = Evidence(window_start=0, window_end=60, value=1, baseline=0, threshold=None,
...               score=1, raw=1, detector="d", detector_version="1", params={}, recent=[])
>>> def alert(group, source, metric, t, status="firing", severity="warning", version=1):
...     return Alert(alert_id=f"d:{group}:{source}:{metric}", version=version, status=status,
...                  severity=severity, category="city", group=group, district="Hai Chau",
...                  source=source, metric=metric, detector="d", title="t", first_seen=t,
...                  last_seen=t, count=1, updated_at=t, change="opened", evidence=ev)
>>> linker = IncidentLinker({}, span_s=900.0)
>>> linker.on_alert(alert("flooding", "rain-HC-01", "rainfall", 1795410000.0))
[]
>>> inc, = linker.on_alert(alert("traffic", "trf-HC-01", "speed", 1795410300.0,
...                              severity="major"))
>>> inc.incident_id, inc.title, inc.severity, inc.version
('inc:HC:1795410000', 'Hai Chau: flooding + traffic', 'major', 1)
>>> linker.on_alert(alert("flooding", "rain-HC-01", "rainfall", 1795410400.0,
...                       status="resolved", version=2))   # traffic is still live: no change
[]
>>> [(i.status, i.version) for i in linker.on_alert(alert("traffic", "trf-HC-01", "speed",
...     1795410500.0, status="resolved", version=2))]
[('closed', 2)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Literal, cast

import msgspec
from msgspec.structs import replace

from ioc import catalog
from ioc.errors import ConfigError, ValidationError
from ioc.events import SEVERITIES, Alert, Incident, Severity

if TYPE_CHECKING:
    from ioc.settings import Settings

__all__ = ["IncidentLinker"]

LIVE = frozenset({"firing", "acknowledged"})
MAX_USED = 64  # incident ids remembered per district (collision avoidance)


class _Member(msgspec.Struct, kw_only=True):
    group: str
    severity: str
    status: str
    first_seen: float
    last_seen: float
    updated_at: float
    version: int


class _District(msgspec.Struct, kw_only=True):
    clock: float = -math.inf
    alerts: dict[str, _Member] = {}
    incident: Incident | None = None   # the current or last incident (last published record)
    used: list[str] = []               # incident ids used in this district, newest last


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_District)


def _code(district: str) -> str:
    try:
        return catalog.district(district).code
    except ValidationError:
        return district.replace(" ", "_")


class IncidentLinker:
    """Link live city alerts of several groups in a district into incidents (see module doc)."""

    def __init__(self, store: MutableMapping[str, bytes], *, span_s: float) -> None:
        if not span_s > 0:
            raise ConfigError(f"incident span must be > 0 seconds, got {span_s}")
        self.store = store
        self.span_s = span_s

    @classmethod
    def from_settings(cls, store: MutableMapping[str, bytes], settings: Settings) -> IncidentLinker:
        """A linker using ``IOC_INCIDENT_SPAN_S``."""
        return cls(store, span_s=settings.incident_span_s)

    def _load(self, district: str) -> _District | None:
        raw = self.store.get(district)
        return None if raw is None else _DEC.decode(raw)

    def get(self, district: str) -> Incident | None:
        """The current (or last) incident of ``district``."""
        d = self._load(district)
        return None if d is None else d.incident

    def on_alert(self, record: Alert | Incident) -> list[Incident]:
        """Apply one record read from ``ioc.alerts``; return the Incident records to publish."""
        if not isinstance(record, Alert) or record.category != "city":
            return []
        d = self._load(record.district) or _District()
        held = d.alerts.get(record.alert_id)
        if held is not None and held.version >= record.version:
            inc = d.incident
            return [inc] if inc is not None and record.alert_id in inc.alert_ids else []
        d.alerts[record.alert_id] = _Member(
            group=record.group, severity=record.severity, status=record.status,
            first_seen=record.first_seen, last_seen=record.last_seen,
            updated_at=record.updated_at, version=record.version)
        d.clock = max(d.clock, record.updated_at)
        out = self._evaluate(d, record.district)
        self._prune(d)
        self.store[record.district] = _ENC.encode(d)
        return out

    def tick(self, now: float, *, owns: Callable[[str], bool] | None = None) -> list[Incident]:
        """Advance every district with an open incident (that ``owns(district)`` accepts) to
        ``now``; close the quiet ones. In a Faust worker, tick while processing an event of
        partition P with ``owns`` accepting the districts that hash to P (table writes go to
        the current event's changelog partition)."""
        out: list[Incident] = []
        for district in list(self.store):
            if owns is not None and not owns(district):
                continue
            d = self._load(district)
            if d is None or d.incident is None or d.incident.status != "open":
                continue
            if now <= d.clock:
                continue
            d.clock = now
            out += self._evaluate(d, district)
            self._prune(d)
            self.store[district] = _ENC.encode(d)
        return out

    def _live(self, d: _District) -> dict[str, _Member]:
        horizon = d.clock - self.span_s
        return {aid: m for aid, m in d.alerts.items()
                if m.status in LIVE and m.last_seen >= horizon}

    def _evaluate(self, d: _District, district: str) -> list[Incident]:
        live = self._live(d)
        inc = d.incident
        if inc is not None and inc.status == "open":
            joining = sorted((a for a in live if a not in inc.alert_ids),
                             key=lambda a: (live[a].first_seen, a))
            members = [*inc.alert_ids, *joining]
            status: Literal["open", "closed"] = (
                "open" if any(a in live for a in members) else "closed")
            new = self._summary(d, district, inc.incident_id, members, status, inc.severity)
            if (new.alert_ids, new.groups, new.severity, new.status) == (
                    inc.alert_ids, inc.groups, inc.severity, inc.status):
                return []
            return [self._publish(d, replace(new, version=inc.version + 1,
                                             first_seen=inc.first_seen))]
        if len({m.group for m in live.values()}) < 2:
            return []
        members = sorted(live, key=lambda a: (live[a].first_seen, a))
        first = live[members[0]].first_seen
        base = f"inc:{_code(district)}:{first:.0f}"
        iid, n = base, 1
        while iid in d.used:
            n += 1
            iid = f"{base}.{n}"
        d.used = [*d.used, iid][-MAX_USED:]
        return [self._publish(d, self._summary(d, district, iid, members, "open", "info"))]

    def _summary(self, d: _District, district: str, iid: str, members: list[str],
                 status: Literal["open", "closed"], floor: str) -> Incident:
        ms = [d.alerts[a] for a in members]
        groups: list[str] = []
        for m in ms:
            if m.group not in groups:
                groups.append(m.group)
        severity = max([floor, *(m.severity for m in ms)], key=SEVERITIES.index)
        title = f"{district}: " + " + ".join(g.replace("_", " ") for g in groups)
        return Incident(
            incident_id=iid, version=1, status=status, district=district, groups=groups,
            alert_ids=members, severity=cast(Severity, severity),
            title=title, first_seen=min(m.first_seen for m in ms),
            last_seen=max(m.last_seen for m in ms), updated_at=d.clock)

    @staticmethod
    def _publish(d: _District, inc: Incident) -> Incident:
        d.incident = inc
        return inc

    def _prune(self, d: _District) -> None:
        """Forget alerts that are neither live nor members of an open incident, once they
        have been quiet for two spans (their versions only guard against short replays)."""
        keep = set(d.incident.alert_ids) if d.incident and d.incident.status == "open" else set()
        horizon = d.clock - 2 * self.span_s
        d.alerts = {a: m for a, m in d.alerts.items()
                    if a in keep or m.updated_at >= horizon or
                    (m.status in LIVE and m.last_seen >= horizon)}

