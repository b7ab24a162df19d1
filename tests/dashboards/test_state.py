"""The dashboard state: apply by version, open sets, indicators and 24-hour trends, summary
statistics (MTTA, MTTR, alerts by severity, noisiest detectors) on event time."""

from __future__ import annotations

from dashkit import T0, make_alert, make_incident, make_indicator, make_window
from hypothesis import given
from hypothesis import strategies as st

from dashboards.state import State


def test_alerts_apply_by_version_and_leave_when_resolved() -> None:
    s = State()
    assert s.apply(make_alert(1))[0]
    assert not s.apply(make_alert(1))[0]                         # duplicate
    changed, prev = s.apply(make_alert(1, version=3, status="acknowledged",
                                       change="acknowledged", updated_at=T0 + 30))
    assert changed and prev is not None and prev.version == 1
    assert not s.apply(make_alert(1, version=2))[0]              # late, older version
    assert s.alerts[make_alert(1).alert_id].status == "acknowledged"
    assert s.apply(make_alert(1, version=4, status="resolved", change="resolved",
                              updated_at=T0 + 90))[0]
    assert s.alerts == {} and s.knows_alert(make_alert(1).alert_id)


def test_incidents_open_and_close() -> None:
    s = State()
    s.apply(make_incident(1))
    assert list(s.incidents) == ["inc:Hai Chau:1"]
    assert not s.apply(make_incident(1))[0]
    s.apply(make_incident(1, version=2, status="closed"))
    assert s.incidents == {}


@given(st.permutations(list(range(1, 9))))
def test_any_arrival_order_ends_in_the_highest_version(order: list[int]) -> None:
    """Applying versions in any order leaves the highest one."""
    s = State()
    for v in order:
        s.apply(make_alert(1, version=v, severity="critical" if v == 8 else "warning"))
    held = s.alerts[make_alert(1).alert_id]
    assert held.version == 8 and held.severity == "critical"


def test_indicators_keep_the_latest_and_a_24_hour_trend() -> None:
    s = State()
    for k in range(0, 26 * 12):  # 26 hours of 5-minute windows
        s.apply(make_indicator(end=T0 + 300 * k, kpis={"max_depth": float(k)}))
    assert s.latest[("flooding", "Hai Chau")].kpis["max_depth"] == 26 * 12 - 1
    points = s.history("flooding", "Hai Chau")["points"]
    assert len(points) <= 288
    assert points[0]["t"] >= s.as_of - 86_400
    assert points[-1]["kpis"]["max_depth"] == 26 * 12 - 1
    # an older window does not replace the latest, and windows pass through
    assert not s.apply(make_indicator(end=T0))[0]
    assert s.apply(make_window())[0]


def test_city_wide_history_combines_districts_by_kpi_operation() -> None:
    s = State()
    s.apply(make_indicator(district="Hai Chau", kpis={"max_depth": 30.0, "flooded_points": 2}))
    s.apply(make_indicator(district="Son Tra", kpis={"max_depth": 10.0, "flooded_points": 1}))
    point = s.history("flooding", None)["points"][0]
    assert point["kpis"] == {"max_depth": 30.0, "flooded_points": 3.0}
    assert point["sources_expected"] == 12


def test_summary_statistics_on_event_time() -> None:
    s = State()
    s.apply(make_alert(1, severity="critical"))
    s.apply(make_alert(1, version=2, status="acknowledged", change="acknowledged",
                       updated_at=T0 + 60))
    s.apply(make_alert(1, version=3, status="resolved", change="resolved",
                       updated_at=T0 + 600))
    s.apply(make_alert(2, detector="stuck", category="sensor_health", severity="warning"))
    s.apply(make_alert(3, severity="major", group="traffic"))
    s.apply(make_alert(3, version=2, status="acknowledged", change="acknowledged",
                       severity="major", group="traffic", updated_at=T0 + 180))
    summary = s.summary()
    assert summary["open_alerts"]["total"] == 2
    assert summary["open_alerts"]["by_category"] == {"city": 1, "sensor_health": 1}
    day = summary["last_24h"]
    assert day["opened"] == 3
    assert day["by_severity"] == {"info": 0, "warning": 1, "major": 1, "critical": 1}
    assert day["mtta_s"] == 120.0 and day["mttr_s"] == 600.0
    assert day["noisiest_detectors"][0] == {"detector": "robust_z", "opened": 2}
    groups = {g["group"]: g for g in summary["groups"]}
    assert len(groups) == 15
    assert groups["traffic"]["worst_severity"] == "major"
    assert groups["flooding"]["worst_severity"] == "warning"
    # a day later (event time), the old events are out of the 24-hour window
    s.apply(make_indicator(end=T0 + 90_000))
    assert s.summary()["last_24h"]["opened"] == 0
