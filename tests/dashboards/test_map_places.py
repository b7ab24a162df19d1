"""Where sources are on the map: every source inside its district, moving ones on their
rounds (streets inside the district, sea lanes off the land), the shipped boundaries."""

from __future__ import annotations

import json

import pytest

from ioc import boundaries, catalog
from ioc.tools.simulated_sources import MOBILE, SEA_LANES, SourceState


def states() -> list[SourceState]:
    out = []
    for src in catalog.all_sources():
        kind = {k.name: k for k in catalog.group(src.group).source_kinds}[src.kind]
        out.append(SourceState(src, kind, 0, "ioc"))
    return out


def on_land(lat: float, lon: float) -> bool:
    return any(boundaries.contains(d.name, lat, lon) for d in catalog.DISTRICTS)


def test_the_shipped_boundaries_hold_the_eight_districts_with_their_attribution() -> None:
    """One feature per catalog district (name and code), and the licence's attribution
    travels with the copy."""
    features = json.loads(boundaries.geojson_bytes())["features"]
    assert [(f["properties"]["name"], f["properties"]["code"]) for f in features] == \
        [(d.name, d.code) for d in catalog.DISTRICTS]
    notes = (boundaries.GEOJSON_PATH.parent / "SOURCE.md").read_text(encoding="utf-8")
    assert "CC BY 3.0 IGO" in notes and "geoBoundaries" in boundaries.ATTRIBUTION


def test_every_source_that_stays_put_is_inside_its_district() -> None:
    fixed = [s for s in catalog.all_sources() if s.kind not in boundaries.MOVING_KINDS]
    assert len(fixed) > 100
    outside = [s.id for s in fixed if not boundaries.contains(s.district, *boundaries.home(s))]
    assert outside == []


def test_the_kinds_that_move_are_the_simulators_moving_kinds() -> None:
    assert set(MOBILE) == boundaries.MOVING_KINDS


@pytest.mark.parametrize("hour", [0.0, 0.3, 1.7, 5.2, 11.9])
def test_vehicles_and_buses_drive_inside_their_district_and_vessels_stay_at_sea(
        hour: float) -> None:
    ts = 1795410000.0 + hour * 3600
    for state in states():
        if state.mobile is None:
            assert state.position(ts) == (None, None)
            continue
        lat, lon = state.position(ts)
        assert lat is not None and lon is not None
        if state.id.startswith("vms-"):
            assert not on_land(lat, lon), (state.id, lat, lon)
        else:
            assert boundaries.contains(state.district, lat, lon), (state.id, lat, lon)


def test_a_moving_source_moves_and_comes_round_again() -> None:
    (bus,) = [s for s in states() if s.id == "bus-HC-01"]
    period = MOBILE["bus"][1]
    assert bus.position(0.0) != bus.position(60.0)
    assert bus.position(100.0) == bus.position(100.0 + period)


def test_every_sea_lane_leg_keeps_off_the_land() -> None:
    for district, lane in SEA_LANES.items():
        legs = zip(lane, lane[1:] + lane[:1], strict=True)
        touching = [(district, a, b) for a, b in legs for i in range(41)
                    if on_land(a[0] + (b[0] - a[0]) * i / 40, a[1] + (b[1] - a[1]) * i / 40)]
        assert touching == []
