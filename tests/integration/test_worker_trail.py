"""The trail names people on a real broker (issue 12): a command that carries the person's
login and display name produces alert versions naming them (an ack, the updates it owns, a
note, a resolution), the sensors' own changes name no one, and a replayed command changes
nothing.

The flooding group only, compressed time: a flood tower of Hai Chau gets a level shift at
00:20, long enough to stay open while people act on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, WorkerProcess, opened, running

from ioc.events import Alert, Command
from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SHIFT = MIDNIGHT + 20 * 60
END = MIDNIGHT + 40 * 60
SOURCE = "flood-HC-01"
PLAN = AnomalyPlan([place("flooding", SOURCE, "flood_depth", "level_shift", SHIFT, 15 * 60)])
LAN = {"user": "operator:lan", "display_name": "Lan Nguyen"}


def records(trail: Trail, aid: str) -> list[Alert]:
    return sorted({(a.version, a.change): a for a in trail.alerts()
                   if a.alert_id == aid}.values(), key=lambda a: a.version)


@pytest.fixture(scope="module")
def trail_of_people(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[list[Alert]]:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("trail"))
    trail = Trail(env)
    sim = CitySimulator(seed=21, start=MIDNIGHT, duration=END - MIDNIGHT, anomalies=PLAN,
                        groups=["flooding"], pack_size=10)
    stream = list(sim.messages())

    def send(lo: float, hi: float, w: WorkerProcess) -> None:
        for t, msgs in stream:
            if lo <= t < hi:
                for m in msgs:
                    env.send_raw("flooding", m.key, m.payload())
        env.producer.flush(60)
        w.wait_clock(hi - 31)

    def cmd(action: str, aid: str, at: float, cid: str, **kw: object) -> None:
        env.command(Command(command_id=cid, action=action, ts=at,  # type: ignore[arg-type]
                            alert_id=aid, **kw), key=SOURCE)  # type: ignore[arg-type]

    def has(aid: str, change: str) -> bool:
        return any(a.change == change for a in records(trail, aid))

    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            send(MIDNIGHT, MIDNIGHT + 25 * 60, w)
            aid = trail.wait(lambda t: next((a.alert_id for a in opened(t.alerts())
                                             if a.source == SOURCE), None), 60, "the alert")
            at = MIDNIGHT + 25 * 60
            ack_id = f"ack-{time.monotonic_ns()}"
            cmd("ack", aid, at, ack_id, reason="crew sent", **LAN)
            trail.wait(lambda t: has(aid, "acknowledged"), 60, "the ack record")
            cmd("ack", aid, at, ack_id, reason="crew sent", **LAN)        # replayed
            cmd("note", aid, at, f"note-{time.monotonic_ns()}", text="pump truck on site",
                user="operator:minh", display_name="Minh Tran")
            trail.wait(lambda t: has(aid, "note"), 60, "the note record")
            send(MIDNIGHT + 25 * 60, MIDNIGHT + 29 * 60, w)   # keeps firing while acked
            trail.wait(lambda t: any(a.status == "acknowledged" and a.change == "updated"
                                     for a in records(t, aid)), 60, "an update while acked")
            cmd("resolve", aid, MIDNIGHT + 29 * 60, f"resolve-{time.monotonic_ns()}",
                reason="water pumped out", user="supervisor:hoa", display_name="Hoa Le")
            trail.wait(lambda t: has(aid, "resolved"), 60, "the resolve record")
            trail.settle()
        yield records(trail, aid)
    finally:
        trail.close()
        env.close()


def test_alert_versions_name_the_person_behind_each_command(
        trail_of_people: list[Alert]) -> None:
    recs = trail_of_people
    who = {a.change: (a.user, a.display_name, a.reason) for a in recs}
    assert who["opened"] == (None, None, None)
    assert who["acknowledged"] == ("operator:lan", "Lan Nguyen", "crew sent")
    assert who["note"][:2] == ("operator:minh", "Minh Tran")
    assert who["resolved"] == ("supervisor:hoa", "Hoa Le", "water pumped out")
    note = next(a for a in recs if a.change == "note")
    assert [(n.user, n.display_name, n.text) for n in note.notes] == [
        ("operator:minh", "Minh Tran", "pump truck on site")]
    updates = [a for a in recs if a.status == "acknowledged" and a.change == "updated"]
    assert updates and {(a.user, a.display_name) for a in updates} == {
        ("operator:lan", "Lan Nguyen")}                 # the ack owns the status it keeps


def test_a_replayed_command_adds_no_version(trail_of_people: list[Alert]) -> None:
    recs = trail_of_people
    assert [a.change for a in recs].count("acknowledged") == 1
    assert [a.version for a in recs] == list(range(1, len(recs) + 1))
