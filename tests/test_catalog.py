"""Catalog consistency: one source of truth for the simulator, workers and dashboards."""

from __future__ import annotations

import pytest

from ioc import catalog, catalog_data, catalog_types, districts
from ioc.errors import ValidationError
from ioc.topics import events_topic, group_of_topic

DESIGN_SLUGS = [
    "citizen_feedback", "public_services", "online_information", "environment", "socioeconomic",
    "emergency_vehicles", "wastewater", "flooding", "fishing_vessels", "healthcare",
    "camera_analytics", "traffic", "public_security", "cybersecurity", "public_transport",
]
BUILTIN_DETECTORS = {
    catalog.THRESHOLD, catalog.PHYSICAL_RANGE, catalog.ROBUST_Z, catalog.EWMA, catalog.CUSUM,
    catalog.SEASONAL, catalog.STUCK, catalog.SILENCE, catalog.COUNT_SURGE,
    catalog.ISOLATION_FOREST, catalog.ADAPTIVE,
}


def test_the_fifteen_groups_in_design_order() -> None:
    assert [g.slug for g in catalog.CATALOG] == DESIGN_SLUGS
    assert [g.number for g in catalog.CATALOG] == list(range(1, 16))
    assert len({g.name for g in catalog.CATALOG}) == 15


@pytest.mark.parametrize("room", [catalog_data, catalog_types, districts],
                         ids=lambda m: m.__name__)
def test_the_front_offers_every_name_of_its_rooms(room: object) -> None:
    """``from ioc import catalog`` stays the one way in: each public name of the modules the
    catalog is made of (but the two helpers the data is built with) is the same object under
    ``catalog.<name>``."""
    names = set(room.__all__) - {"daily_shape", "place_sources"}  # type: ignore[attr-defined]
    assert names <= set(catalog.__all__)
    assert all(getattr(catalog, n) is getattr(room, n) for n in names)


def test_districts_of_da_nang() -> None:
    assert [d.name for d in catalog.DISTRICTS] == [
        "Hai Chau", "Thanh Khe", "Son Tra", "Ngu Hanh Son", "Lien Chieu", "Cam Le", "Hoa Vang",
        "Hoang Sa"]
    assert len({d.code for d in catalog.DISTRICTS}) == 8


def test_vessels_are_the_only_sources_at_sea() -> None:
    at_sea = {s.group for s in catalog.all_sources() if s.district == "Hoang Sa"}
    assert at_sea == {"fishing_vessels"}


@pytest.mark.parametrize("g", catalog.CATALOG, ids=lambda g: g.slug)
def test_group_is_complete_and_consistent(g: catalog.ServiceGroup) -> None:
    assert g.description and g.window_s >= 60 and g.source_kinds and g.kpis
    names = [m.name for k in g.source_kinds for m in k.metrics]
    assert len(names) == len(set(names)), "metric names are unique within a group"
    for kind in g.source_kinds:
        assert kind.cadence_s > 0 and kind.per_district >= 1
        assert set(kind.districts) <= catalog.DISTRICT_NAMES
        assert catalog.SILENCE in kind.heartbeat.detectors
        assert sum(catalog.SILENCE in m.detectors for m in kind.metrics) == 1
        for m in kind.metrics:
            assert m.unit and m.detectors
            assert set(m.detectors) <= BUILTIN_DETECTORS, m.name
            lo, hi = m.normal
            plo, phi = m.physical
            assert plo <= lo <= hi <= phi, f"{m.name}: normal range inside the physical one"
            assert len(m.daily) == 24 and all(f > 0 for f in m.daily)
            assert m.weekend > 0 and m.noise >= 0
            if m.counted:
                assert m.event_kinds and m.unit == "events"
                assert catalog.COUNT_SURGE in m.detectors
            else:
                assert not m.event_kinds
                assert plo <= m.base <= phi
            if m.breach_above is not None:
                assert m.breach_above > m.base
            if m.breach_below is not None:
                assert m.breach_below < m.base
    for kpi in g.kpis:
        assert kpi.metric in g.metrics_by_name, f"{kpi.name} refers to a metric of the group"
        if kpi.op == "ratio":
            assert kpi.other in g.metrics_by_name
        if kpi.op == "breach":
            spec = g.metric(kpi.metric)
            assert spec.breach_above is not None or spec.breach_below is not None or \
                kpi.name == "vessels_reporting"


def test_source_ids_are_unique_stable_and_located() -> None:
    sources = catalog.all_sources()
    assert len({(s.group, s.id) for s in sources}) == len(sources)
    assert catalog.all_sources() == sources
    for s in sources:
        d = catalog.district(s.district)
        assert abs(s.lat - d.lat) < 0.05 and abs(s.lon - d.lon) < 0.05
        assert f"-{d.code}-" in s.id


def test_unknown_names_fail_with_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="known: citizen_feedback"):
        catalog.group("sewers")
    with pytest.raises(ValidationError, match="known: rainfall, flood_depth"):
        catalog.group("flooding").metric("depth")
    with pytest.raises(ValidationError, match="Hai Chau"):
        catalog.district("Da Lat")


def test_daily_shape_follows_local_time() -> None:
    volume = catalog.group("traffic").metric("volume")
    # Monday 2026-11-23, 08:00 and 03:00 in Da Nang (UTC+7)
    rush, night = 1_795_395_600.0 - 3600 * 0, 1_795_377_600.0
    assert volume.expected(rush) > 3 * volume.expected(night)


def test_weekend_factor_applies_on_saturday() -> None:
    dossiers = catalog.group("public_services").metric("dossiers_submitted")
    monday_10 = 1_795_402_800.0
    saturday_10 = monday_10 + 5 * 86400
    assert dossiers.expected(saturday_10) == pytest.approx(dossiers.expected(monday_10) * 0.1)


def test_breach_and_physical_checks() -> None:
    depth = catalog.group("flooding").metric("flood_depth")
    assert depth.in_breach(25) and not depth.in_breach(5)
    assert depth.physically_possible(0) and not depth.physically_possible(-3)
    assert not depth.physically_possible(float("nan"))


def test_every_group_has_an_events_topic() -> None:
    for slug in catalog.GROUP_SLUGS:
        assert group_of_topic(events_topic(slug)) == slug
    assert group_of_topic("ioc.alerts") is None
