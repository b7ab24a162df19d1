"""The dashboard state: apply by version, open sets, indicators and 24-hour trends, summary
statistics (MTTA, MTTR, alerts by severity, noisiest detectors) on event time, per-district
rows and trends and per-group MTTA/MTTR in the summary."""

from __future__ import annotations

import msgspec
from dashkit import T0, make_alert, make_incident, make_indicator, make_window
from hypothesis import given
from hypothesis import strategies as st

from dashboards.state import SilenceView, State
from ioc import catalog
from ioc.events import Command, GroupIndicator


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


def _indicator(group: str, district: str, end: float, *, alerts: dict[str, int],
               breach: int, reporting: int = 6, expected: int = 6) -> GroupIndicator:
    return msgspec.structs.replace(make_indicator(group, district, end=end, breach=breach),
                                   open_alerts=alerts, sources_reporting=reporting,
                                   sources_expected=expected)


def test_summary_districts_from_open_alerts_latest_indicators_and_5_minute_trend() -> None:
    """Per district: open alerts and the worst severity from the open alerts; sources from
    the latest indicator of every group there; a trend of open alerts and sources in breach
    summed over the groups in each 5-minute bucket of event time, oldest first."""
    s = State()
    # Hai Chau: flooding over three 5-minute buckets, traffic in the last two; the first one
    # is more than 24 hours older than the newest record and falls out of the trend
    s.apply(_indicator("flooding", "Hai Chau", T0 - 86_400, alerts={"major": 9}, breach=9))
    s.apply(_indicator("flooding", "Hai Chau", T0 + 300, alerts={"major": 1}, breach=2))
    s.apply(_indicator("flooding", "Hai Chau", T0 + 600, alerts={"major": 1, "warning": 2},
                       breach=3, reporting=5))
    s.apply(_indicator("traffic", "Hai Chau", T0 + 300, alerts={}, breach=1))
    s.apply(_indicator("traffic", "Hai Chau", T0 + 600, alerts={"critical": 1}, breach=0,
                       reporting=10, expected=12))
    s.apply(_indicator("flooding", "Son Tra", T0 + 600, alerts={}, breach=0))
    s.apply(make_alert(1, severity="warning", district="Hai Chau"))
    s.apply(make_alert(2, severity="critical", district="Hai Chau", group="traffic"))
    s.apply(make_alert(3, severity="major", district="Son Tra"))
    s.apply(make_alert(4, severity="critical", district="Son Tra", detector="stuck"))
    s.apply(make_alert(4, version=2, severity="critical", district="Son Tra", detector="stuck",
                       status="resolved", change="resolved", updated_at=T0 + 60))
    summary = s.summary()
    districts = {d["district"]: d for d in summary["districts"]}
    assert [d["district"] for d in summary["districts"]] == [d.name for d in catalog.DISTRICTS]

    hc = districts["Hai Chau"]
    assert (hc["open_alerts"], hc["worst_severity"]) == (2, "critical")
    assert (hc["sources_reporting"], hc["sources_expected"], hc["sources_in_breach"]) == \
        (15, 18, 3)
    # buckets start at T0 (window T0+240..T0+300) and T0+300 (window T0+540..T0+600)
    assert hc["trend"] == [{"t": T0, "open_alerts": 1, "sources_in_breach": 3},
                           {"t": T0 + 300, "open_alerts": 4, "sources_in_breach": 3}]

    st_ = districts["Son Tra"]
    assert (st_["open_alerts"], st_["worst_severity"]) == (1, "major")   # the critical resolved
    assert (st_["sources_reporting"], st_["sources_expected"], st_["sources_in_breach"]) == \
        (6, 6, 0)
    assert st_["trend"] == [{"t": T0 + 300, "open_alerts": 0, "sources_in_breach": 0}]

    quiet = districts["Lien Chieu"]
    assert quiet == {"district": "Lien Chieu", "open_alerts": 0, "worst_severity": None,
                     "sources_reporting": 0, "sources_expected": 0, "sources_in_breach": 0,
                     "trend": [], "status": "no_data",
                     "reason": {"key": "status.why.no_data", "params": {}}}
    # open alerts per district add up to the city-wide total
    assert sum(d["open_alerts"] for d in summary["districts"]) == \
        summary["open_alerts"]["total"] == 3


def test_summary_group_trend_is_the_city_wide_history() -> None:
    """The single pass that builds the summary's trends gives the same city-wide series as
    ``/api/history`` without a district."""
    s = State()
    for k in range(30):
        for district, depth in (("Hai Chau", 3.0 * k), ("Son Tra", 50.0 - k)):
            s.apply(make_indicator(district=district, end=T0 + 300 * k,
                                   kpis={"max_depth": depth, "flooded_points": float(k % 3)}))
    groups = {g["group"]: g for g in s.summary()["groups"]}
    expected = [{"t": p["t"], "kpis": p["kpis"]} for p in s.history("flooding", None)["points"]]
    assert len(expected) == 30 and groups["flooding"]["trend"] == expected
    assert groups["flooding"]["trend"][0]["kpis"] == {"max_depth": 50.0, "flooded_points": 0.0}
    assert groups["traffic"]["trend"] == []


def test_summary_mtta_and_mttr_per_group_over_24_hours() -> None:
    """Per group, the mean seconds from first_seen to the acknowledgement / resolution of
    the alerts acknowledged / resolved in the last 24 hours of event time; null when none."""
    s = State()
    # flooding: acknowledged after 60 s and 180 s, one of them resolved after 900 s
    s.apply(make_alert(1))
    s.apply(make_alert(1, version=2, status="acknowledged", change="acknowledged",
                       updated_at=T0 + 60))
    s.apply(make_alert(1, version=3, status="resolved", change="resolved",
                       updated_at=T0 + 900))
    s.apply(make_alert(2, first_seen=T0 + 100))
    s.apply(make_alert(2, version=2, status="acknowledged", change="acknowledged",
                       first_seen=T0 + 100, updated_at=T0 + 280))
    # traffic: resolved after 300 s without an acknowledgement
    s.apply(make_alert(3, group="traffic"))
    s.apply(make_alert(3, version=2, group="traffic", status="resolved", change="resolved",
                       updated_at=T0 + 300))
    summary = s.summary()
    groups = {g["group"]: g for g in summary["groups"]}
    assert (groups["flooding"]["mtta_s"], groups["flooding"]["mttr_s"]) == (120.0, 900.0)
    assert (groups["traffic"]["mtta_s"], groups["traffic"]["mttr_s"]) == (None, 300.0)
    assert (groups["healthcare"]["mtta_s"], groups["healthcare"]["mttr_s"]) == (None, None)
    day = summary["last_24h"]
    assert (day["mtta_s"], day["mttr_s"]) == (120.0, 600.0)   # city-wide: all groups
    # a day later (event time) the acknowledgements and resolutions are out of the window
    s.apply(make_indicator(end=T0 + 90_000))
    groups = {g["group"]: g for g in s.summary()["groups"]}
    assert (groups["flooding"]["mtta_s"], groups["flooding"]["mttr_s"]) == (None, None)


_GROUPS = ("flooding", "traffic")
_DISTRICTS = ("Hai Chau", "Son Tra", "Cam Le")


@given(st.lists(st.tuples(st.sampled_from(_GROUPS), st.sampled_from(_DISTRICTS),
                          st.integers(0, 330), st.integers(0, 3), st.booleans()),
                min_size=1, max_size=60))
def test_summary_trends_stay_right_when_built_between_records(
        steps: list[tuple[str, str, int, int, bool]]) -> None:
    """The summary recomputes only the 5-minute buckets touched since the previous summary;
    asked for at any point (indicators replacing one another in a bucket, late windows
    filling holes, buckets leaving the 24 hours), its trends equal ``/api/history``: per group
    the city-wide series, per district the sums over its groups' series."""
    s = State()
    for group, district, minutes5, breach, ask in steps:
        end = T0 + 300 * minutes5 + 60 * (breach % 3)
        s.apply(msgspec.structs.replace(
            make_indicator(group, district, end=end, breach=breach,
                           kpis={"max_depth": float(minutes5), "flooded_points": breach}),
            open_alerts={"major": breach, "info": 1}))
        if ask:
            s.summary()
    summary = s.summary()
    groups = {g["group"]: g for g in summary["groups"]}
    for group in _GROUPS:
        expected = [{"t": p["t"], "kpis": p["kpis"]} for p in s.history(group, None)["points"]]
        assert groups[group]["trend"] == expected, group
    districts = {d["district"]: d for d in summary["districts"]}
    for district in _DISTRICTS:
        sums: dict[float, list[int]] = {}
        for group in _GROUPS:
            for p in s.history(group, district)["points"]:
                acc = sums.setdefault(p["t"], [0, 0])
                acc[0] += p["open_alerts"]
                acc[1] += p["sources_in_breach"]
        assert districts[district]["trend"] == [
            {"t": t, "open_alerts": a, "sources_in_breach": b}
            for t, (a, b) in sorted(sums.items())], district


# --- silences (issue 9, defect 3) -------------------------------------------------------------

def _silence(cid: str, user: str = "operator", length: float = 3600.0,
             **matchers: str) -> Command:
    return Command(command_id=cid, action="silence", user=user, ts=T0, until=T0 + length,
                   reason="works", matchers=matchers or {"group": "traffic"})


def _unsilence(cid: str, silence_id: str) -> Command:
    return Command(command_id=cid, action="unsilence", user="operator", ts=T0 + 60,
                   silence_id=silence_id)


def test_silences_come_from_commands_and_leave_when_lifted() -> None:
    s = State()
    assert s.apply(_silence("s1")) == (True, None)
    assert not s.apply(_silence("s1"))[0]                        # replayed
    view = s.silence_of(_silence("s1"))
    assert isinstance(view, SilenceView) and view.matchers == {"group": "traffic"}
    assert [v.silence_id for v in s.snapshot(lambda r: True)["silences"]] == ["s1"]
    changed, prev = s.apply(_unsilence("u1", "s1"))
    assert changed and prev == view
    lifted = s.silence_of(_unsilence("u1", "s1"))
    assert lifted is not None and (lifted.lifted_at, lifted.lifted_by) == (T0 + 60, "operator")
    assert s.snapshot(lambda r: True)["silences"] == []
    assert not s.apply(_unsilence("u1", "s1"))[0]                # replayed
    assert not s.apply(_unsilence("u2", "nope"))[0]              # unknown: nothing to lift


def test_silences_the_worker_refuses_are_not_listed() -> None:
    s = State(max_silence_s=3600.0)
    assert not s.apply(_silence("broad", category="city"))[0]
    assert not s.apply(_silence("long", length=7200.0))[0]
    assert s.apply(_silence("sup", user="supervisor", category="city"))[0]
    assert State(operators_may_silence_broadly=True).apply(_silence("b", category="city"))[0]
    assert [v.silence_id for v in s.active_silences()] == ["sup"]


def test_ended_silences_leave_the_list_on_event_time() -> None:
    s = State()
    s.apply(_silence("short", length=120.0))
    s.apply(_silence("long", length=7200.0))
    s.apply(make_alert(1, updated_at=T0 + 600))                  # the state's time moves on
    assert [v.silence_id for v in s.active_silences()] == ["long"]
    assert not s.apply(Command(command_id="a1", action="ack", user="operator", ts=T0,
                               alert_id=make_alert(1).alert_id))[0]
