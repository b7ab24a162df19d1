"""Cross-group incidents: linking, growth, closing, ids, replays."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ioc.errors import ConfigError
from ioc.events import Alert, Command, Evidence, Incident, decode_alert, encode
from ioc.settings import Settings
from streams.incidents import IncidentLinker
from streams.lifecycle import AlertBook, EscalationPolicy, Verdict
from streams.silences import SilenceBook

T0 = 1_795_410_000.0
SPAN = 900.0
HC = "Hai Chau"


def alert(group: str, source: str, metric: str, t: float, *, status: str = "firing",
          severity: str = "warning", version: int = 1, district: str = HC,
          category: str = "city", first: float | None = None) -> Alert:
    ev = Evidence(window_start=t - 60, window_end=t, value=1.0, baseline=0.0, threshold=None,
                  score=0.95, raw=1.0, detector="robust_z", detector_version="1", params={},
                  recent=[])
    return Alert(alert_id=f"robust_z:{group}:{source}:{metric}", version=version,
                 status=status, severity=severity, category=category,  # type: ignore[arg-type]
                 group=group, district=district, source=source, metric=metric,
                 detector="robust_z", title="t", first_seen=t if first is None else first,
                 last_seen=t, count=1, updated_at=t, change="x", evidence=ev)


class Scenario:
    """Real alert records from an AlertBook, fed to the linker as the incident agent would."""

    def __init__(self) -> None:
        self.book = AlertBook({}, resolve_after=2, flap_window_s=300.0,
                              escalation=EscalationPolicy(escalate_after_s=math.inf))
        self.silences = SilenceBook({})
        self.linker = IncidentLinker({}, span_s=SPAN)
        self.alerts: list[Alert] = []
        self.incidents: list[Incident] = []

    def window(self, t: float, group: str, source: str, metric: str, *, firing: bool = True,
               raw: float = 5.0, health: bool = False, district: str = HC) -> list[Incident]:
        ev = Evidence(window_start=t - 60, window_end=t, value=30.0, baseline=2.0,
                      threshold=4.0, score=0.97 if firing else 0.1, raw=raw,
                      detector="stuck" if health else "robust_z", detector_version="1",
                      params={}, recent=[2.0, 30.0])
        recs = self.book.observe(group=group, district=district, source=source, metric=metric,
                                 verdicts=[Verdict(firing=firing, health=health, evidence=ev)],
                                 ts=t, silences=self.silences)
        return self.feed(recs)

    def feed(self, recs: list[Alert]) -> list[Incident]:
        out: list[Incident] = []
        for r in recs:
            self.alerts.append(r)
            wire = decode_alert(encode(r))                      # as read from ioc.alerts
            out += self.linker.on_alert(wire)
        self.incidents += out
        return out


RAIN = ("flooding", "rain-HC-01", "rainfall")
FLOOD = ("flooding", "flood-HC-01", "flood_depth")
TRAFFIC = ("traffic", "trf-HC-01", "speed")
COMPLAINTS = ("citizen_feedback", "cf-HC-01", "tickets_opened")


def test_rain_flood_traffic_and_complaints_in_hai_chau_make_one_incident() -> None:
    sc = Scenario()
    assert sc.window(T0, *RAIN) == []
    assert sc.window(T0 + 300, *FLOOD, raw=7.0) == []           # same group: no incident yet
    (opened,) = sc.window(T0 + 600, *TRAFFIC)
    assert opened.incident_id == "inc:HC:1795410000"
    assert (opened.version, opened.status, opened.district) == (1, "open", HC)
    assert opened.groups == ["flooding", "traffic"]
    assert opened.alert_ids == ["robust_z:flooding:rain-HC-01:rainfall",
                                "robust_z:flooding:flood-HC-01:flood_depth",
                                "robust_z:traffic:trf-HC-01:speed"]
    assert opened.severity == "major" and opened.first_seen == T0
    (grown,) = sc.window(T0 + 900, *COMPLAINTS)
    assert (grown.incident_id, grown.version) == (opened.incident_id, 2)
    assert grown.title == "Hai Chau: flooding + traffic + citizen feedback"
    assert len(grown.alert_ids) == 4 and grown.last_seen == T0 + 900
    assert sc.window(T0 + 960, *RAIN) == []                     # updates change nothing
    assert sc.window(T0 + 960, *FLOOD) == []
    for t in (T0 + 1020, T0 + 1080):
        for key in (RAIN, FLOOD, TRAFFIC):
            sc.window(t, *key, firing=False)
    assert sc.incidents[-1].version == 2                        # complaints still firing
    sc.window(T0 + 1140, *COMPLAINTS, firing=False)
    (closed,) = sc.window(T0 + 1200, *COMPLAINTS, firing=False)
    assert (closed.status, closed.version, closed.severity) == ("closed", 3, "major")
    for inc in sc.incidents:
        assert decode_alert(encode(inc)) == inc


def test_a_single_group_never_makes_an_incident() -> None:
    sc = Scenario()
    for i, src in enumerate(["flood-HC-01", "flood-HC-02", "rain-HC-01"]):
        metric = "rainfall" if src.startswith("rain") else "flood_depth"
        assert sc.window(T0 + i * 60, "flooding", src, metric) == []
    assert sc.linker.get(HC) is None


def test_groups_in_different_districts_are_not_linked() -> None:
    sc = Scenario()
    sc.window(T0, *RAIN)
    assert sc.window(T0 + 60, "traffic", "trf-TK-01", "speed", district="Thanh Khe") == []


def test_sensor_health_alerts_are_ignored() -> None:
    sc = Scenario()
    sc.window(T0, *RAIN)
    assert sc.window(T0 + 60, *TRAFFIC, health=True) == []
    assert [a.category for a in sc.alerts] == ["city", "sensor_health"]


def test_alerts_further_apart_than_the_span_are_not_linked() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    assert linker.on_alert(alert(*RAIN, T0)) == []
    assert linker.on_alert(alert(*TRAFFIC, T0 + SPAN + 1)) == []
    (inc,) = linker.on_alert(alert(*RAIN, T0 + SPAN + 2, version=2, first=T0))
    assert inc.first_seen == T0 and inc.groups == ["flooding", "traffic"]


def test_resolved_and_silenced_alerts_do_not_open_incidents() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    linker.on_alert(alert(*RAIN, T0, status="silenced"))
    assert linker.on_alert(alert(*TRAFFIC, T0 + 60)) == []
    linker.on_alert(alert(*FLOOD, T0 + 60, status="resolved"))
    assert linker.get(HC) is None
    (inc,) = linker.on_alert(alert(*COMPLAINTS, T0 + 120, status="acknowledged"))
    assert inc.groups == ["traffic", "citizen_feedback"]


def test_severity_follows_the_worst_member_and_never_goes_down() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    linker.on_alert(alert(*RAIN, T0))
    linker.on_alert(alert(*TRAFFIC, T0 + 60))
    (up,) = linker.on_alert(alert(*TRAFFIC, T0 + 120, severity="critical", version=2,
                                  first=T0 + 60))
    assert (up.severity, up.version) == ("critical", 2)
    assert linker.on_alert(alert(*TRAFFIC, T0 + 180, version=3, first=T0 + 60,
                                 status="resolved")) == []
    assert linker.get(HC).severity == "critical"  # type: ignore[union-attr]


def test_an_incident_closes_when_no_member_has_fired_for_a_span() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    linker.on_alert(alert(*RAIN, T0))
    linker.on_alert(alert(*TRAFFIC, T0 + 60, status="acknowledged"))
    assert linker.tick(T0 + 60 + SPAN) == []
    (closed,) = linker.tick(T0 + 61 + SPAN)
    assert (closed.status, closed.version, closed.updated_at) == ("closed", 2, T0 + 61 + SPAN)
    assert linker.tick(T0 + 5 * SPAN) == []


def test_incident_records_read_back_are_ignored() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    linker.on_alert(alert(*RAIN, T0))
    (inc,) = linker.on_alert(alert(*TRAFFIC, T0 + 60))
    assert linker.on_alert(inc) == []
    assert linker.get(HC) == inc


def test_replayed_alert_records_return_the_current_incident_unchanged() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    rain = alert(*RAIN, T0)
    assert linker.on_alert(rain) == []
    (inc,) = linker.on_alert(alert(*TRAFFIC, T0 + 60))
    assert linker.on_alert(rain) == [inc]                       # a member: same record again
    assert linker.on_alert(alert(*COMPLAINTS, T0 + 60, district="Son Tra")) == []
    assert linker.on_alert(alert(*COMPLAINTS, T0 + 60, district="Son Tra")) == []


def test_a_later_incident_gets_a_new_id_even_from_the_same_first_member() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    linker.on_alert(alert(*RAIN, T0, status="acknowledged"))
    (first,) = linker.on_alert(alert(*TRAFFIC, T0 + 60))
    assert linker.tick(T0 + 3000)[0].status == "closed"
    linker.on_alert(alert(*RAIN, T0 + 3000, status="acknowledged", version=2, first=T0))
    (second,) = linker.on_alert(alert(*TRAFFIC, T0 + 3060, version=2, first=T0 + 3000))
    assert first.incident_id == "inc:HC:1795410000"
    assert (second.incident_id, second.version) == ("inc:HC:1795410000.2", 1)


def test_restored_linker_replaying_records_neither_loses_nor_forks() -> None:
    sc = Scenario()
    steps: list[tuple[Any, ...]] = [(T0, RAIN, True), (T0 + 300, FLOOD, True),
                                    (T0 + 600, TRAFFIC, True), (T0 + 900, COMPLAINTS, True)]
    steps += [(T0 + 960 + 60 * i, k, False) for i in range(3) for k in (
        RAIN, FLOOD, TRAFFIC, COMPLAINTS)]
    for t, key, firing in steps:
        sc.window(t, *key, firing=firing)
    full = {(i.incident_id, i.version): i for i in sc.incidents}
    assert [i.status for i in sc.incidents] == ["open", "open", "closed"]
    for cut in range(1, len(sc.alerts)):
        first = IncidentLinker({}, span_s=SPAN)
        out = [i for a in sc.alerts[:cut] for i in first.on_alert(a)]
        for back in (0, 2, 5):
            restored = IncidentLinker(dict(first.store), span_s=SPAN)
            again = [i for a in sc.alerts[max(0, cut - back):] for i in restored.on_alert(a)]
            seen: dict[tuple[str, int], Incident] = {}
            for i in out + again:
                assert seen.setdefault((i.incident_id, i.version), i) == i
            assert seen == full


def test_options() -> None:
    assert IncidentLinker.from_settings({}, Settings(incident_span_s=60.0)).span_s == 60.0
    with pytest.raises(ConfigError, match="span"):
        IncidentLinker({}, span_s=0.0)


def test_commands_on_members_flow_through_to_the_incident() -> None:
    sc = Scenario()
    sc.window(T0, *RAIN)
    sc.window(T0 + 60, *TRAFFIC)
    aid = "robust_z:traffic:trf-HC-01:speed"
    cmd = Command(command_id="c1", action="resolve", user="lan", ts=T0 + 90, alert_id=aid)
    assert sc.feed(sc.book.command(cmd, now=T0 + 90, silences=sc.silences)) == []
    cmd = Command(command_id="c2", action="resolve", user="lan", ts=T0 + 95,
                  alert_id="robust_z:flooding:rain-HC-01:rainfall")
    (closed,) = sc.feed(sc.book.command(cmd, now=T0 + 95, silences=sc.silences))
    assert closed.status == "closed"


def test_tick_only_touches_the_districts_it_is_told_it_owns() -> None:
    linker = IncidentLinker({}, span_s=SPAN)
    for district in (HC, "Son Tra"):
        linker.on_alert(alert(*RAIN, T0, district=district))
        linker.on_alert(alert(*TRAFFIC, T0 + 60, district=district))
    (closed,) = linker.tick(T0 + 5000, owns=lambda d: d == "Son Tra")
    assert (closed.district, closed.status) == ("Son Tra", "closed")
    assert linker.get(HC).status == "open"  # type: ignore[union-attr]
