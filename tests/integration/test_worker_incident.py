"""Rain, flooding, traffic and complaints in one district become one incident linking the
member alerts (a worker on a real broker; the incident agent reads ``ioc.alerts``).

Pinned scenario (seed 3): Son Tra at 00:50 local, after 50 simulated minutes of the flooding,
traffic and citizen-feedback groups (complaints are counted in five-minute windows, so their
surge detector needs that long to learn its rate).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, opened, running

from ioc.events import Incident
from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

AT = MIDNIGHT + 50 * 60
END = MIDNIGHT + 58 * 60
PLAN = AnomalyPlan([
    place("flooding", "rain-ST-01", "rainfall", "level_shift", AT),
    place("flooding", "flood-ST-01", "flood_depth", "level_shift", AT + 60),
    place("traffic", "trf-ST-01", "speed", "level_shift", AT + 120, sign=-1),
    place("citizen_feedback", "cf-ST-01", "tickets_opened", "count_surge", AT),
])
GROUPS = ["flooding", "traffic", "citizen_feedback"]


@pytest.fixture(scope="module")
def trail(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trail]:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("incident"))
    t = Trail(env)
    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            sim = CitySimulator(seed=3, start=MIDNIGHT, duration=END - MIDNIGHT,
                                anomalies=PLAN, groups=GROUPS, pack_size=10)
            w.wait_readings(env.send_stream(sim))
            t.wait(lambda tr: any(len(i.groups) >= 3 and i.district == "Son Tra"
                                  for i in tr.incidents()), 60, "a three-group incident")
            t.settle()
        yield t
    finally:
        t.close()
        env.close()


def latest(incidents: list[Incident]) -> dict[str, Incident]:
    held: dict[str, Incident] = {}
    for i in incidents:
        if i.incident_id not in held or i.version > held[i.incident_id].version:
            held[i.incident_id] = i
    return held


def test_the_scenario_raises_one_alert_per_member(trail: Trail) -> None:
    for a in PLAN:
        got = {x.alert_id for x in opened(trail.alerts())
               if x.source == a.source and x.metric == a.metric and x.first_seen >= AT - 300}
        assert len(got) == 1, (a.source, got)


def test_one_incident_links_the_member_alerts(trail: Trail) -> None:
    members = {x.alert_id for x in opened(trail.alerts())
               if x.source in {a.source for a in PLAN} and x.first_seen >= AT - 300}
    assert len(members) == 4
    incidents = latest(trail.incidents())
    holding = {iid: inc for iid, inc in incidents.items() if members & set(inc.alert_ids)}
    assert len(holding) == 1, {iid: i.alert_ids for iid, i in holding.items()}
    (inc,) = holding.values()
    assert members <= set(inc.alert_ids)
    assert {"flooding", "traffic", "citizen_feedback"} <= set(inc.groups)
    assert inc.district == "Son Tra" and inc.status == "open"
    assert inc.incident_id.startswith("inc:ST:")


def test_incident_records_are_keyed_by_district_and_versioned(trail: Trail) -> None:
    trail.poll()
    from ioc.events import decode_alert

    versions: dict[str, list[int]] = {}
    for key, raw in trail.records:
        rec = decode_alert(raw)
        if isinstance(rec, Incident):
            assert key == rec.district.encode()
            versions.setdefault(rec.incident_id, []).append(rec.version)
    for iid, vs in versions.items():
        assert sorted(set(vs)) == list(range(1, max(vs) + 1)), iid
