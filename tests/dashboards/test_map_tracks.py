"""The map's pure parts: moving sources' tracks and lost sources (dashboards.tracks), and
what /api/map answers for a scope (dashboards.geo)."""

from __future__ import annotations

import itertools

from dashkit import T0, make_alert

from archive.accounts import Scope
from dashboards.geo import district_statuses, map_body, worst_by_source
from dashboards.positions import moving_topics
from dashboards.state import State
from dashboards.tracks import TRACK_EVERY_S, TRACK_POINTS, Tracks, lost_after
from ioc import catalog
from ioc.events import Reading


def report(source: str, ts: float, lat: float = 16.06, lon: float = 108.35,
           group: str = "fishing_vessels", district: str = "Son Tra",
           metric: str = "speed") -> Reading:
    return Reading(group=group, source=source, metric=metric, value=5.0, ts=ts,
                   district=district, lat=lat, lon=lon)


def test_a_track_keeps_its_spacing_and_its_length_while_the_head_moves() -> None:
    t = Tracks()
    for i in range(200):
        assert t.apply(report("vms-ST-01", T0 + 5 * i, lat=16.0 + i / 1000))
    (view,) = t.view()
    assert len(view["track"]) == TRACK_POINTS
    assert view["track"][-1] == [view["lat"], view["lon"]] == [16.199, 108.35]
    assert view["ts"] == T0 + 995
    # all but the head are TRACK_EVERY_S or more apart (reports come every 5 s)
    lats = [p[0] for p in view["track"][:-1]]
    steps = [round((b - a) * 1000 * 5) for a, b in itertools.pairwise(lats)]
    assert all(s >= TRACK_EVERY_S for s in steps)


def test_a_source_is_lost_after_four_reporting_intervals_of_event_time() -> None:
    t = Tracks()
    t.apply(report("vms-ST-01", T0))
    t.apply(report("vms-ST-02", T0))
    t.apply(report("vms-ST-02", T0 + lost_after("vessel")))
    assert [v["lost"] for v in t.view()] == [False, False]
    t.apply(report("vms-ST-02", T0 + lost_after("vessel") + 1))
    assert [(v["id"], v["lost"]) for v in t.view()] == [("vms-ST-01", True),
                                                         ("vms-ST-02", False)]
    t.apply(report("vms-ST-01", T0 + 100))        # it reports again: found
    assert [v["lost"] for v in t.view()] == [False, False]


def test_readings_without_a_position_or_from_sources_that_stay_put_are_ignored() -> None:
    t = Tracks()
    assert not t.apply(Reading(group="fishing_vessels", source="vms-ST-01", metric="speed",
                               value=5.0, ts=T0, district="Son Tra"))
    assert not t.apply(report("rain-HC-01", T0, group="flooding", district="Hai Chau",
                              metric="rainfall"))
    assert t.apply(report("vms-ST-01", T0 + 10))
    assert not t.apply(report("vms-ST-01", T0))   # older than the last one
    assert t.changes == 1 and t.as_of == T0 + 10


def test_the_map_shows_a_scope_its_own_places_moving_sources_and_alerts_only() -> None:
    state = State()
    state.apply(make_alert(1, severity="warning"))                    # flooding, Hai Chau
    state.apply(make_alert(2, severity="critical"))
    state.apply(make_alert(3, severity="major", district="Son Tra"))
    tracks = Tracks()
    tracks.apply(report("vms-ST-01", T0))
    tracks.apply(report("bus-HC-01", T0, group="public_transport", district="Hai Chau"))
    city = map_body(state, tracks, Scope(), {"Hai Chau": "critical"})
    assert len(city["places"]) == sum(1 for s in catalog.all_sources()
                                      if s.kind not in ("vehicle", "bus", "vessel"))
    assert [m["id"] for m in city["moving"]] == ["bus-HC-01", "vms-ST-01"]
    mine = map_body(state, tracks, Scope(("Hai Chau",)), {})
    assert {p["district"] for p in mine["places"]} == {"Hai Chau"}
    assert [m["id"] for m in mine["moving"]] == ["bus-HC-01"]
    assert sorted(a["severity"] for a in mine["alerts"].values()) == ["critical", "warning"]


def test_a_sources_worst_open_alert_wins_and_silenced_ones_do_not_count() -> None:
    state = State()
    for n, sev in ((1, "warning"), (2, "critical"), (3, "major")):
        a = make_alert(n, severity=sev)
        state.apply(a.__class__(**{**{f: getattr(a, f) for f in a.__struct_fields__},
                                   "source": "flood-HC-01"}))
    state.apply(make_alert(4, severity="critical", status="silenced"))
    worst = worst_by_source(state, Scope())
    assert worst["flood-HC-01"]["severity"] == "critical"
    assert worst["flood-HC-01"]["open"] == 3
    assert all(v["severity"] != "critical" or k == "flood-HC-01" for k, v in worst.items())


def test_district_statuses_come_from_the_summary_body() -> None:
    body = {"districts": [{"district": "Hai Chau", "status": "starting"},
                          {"district": "Son Tra"}]}
    assert district_statuses(body) == {"Hai Chau": "starting"}


def test_the_positions_feed_reads_the_groups_that_have_moving_sources() -> None:
    assert moving_topics("t1") == ("t1.emergency_vehicles.events", "t1.fishing_vessels.events",
                                   "t1.public_transport.events")
