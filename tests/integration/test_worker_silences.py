"""Silences, alert ids and audit names on a real broker (issue 9, defects 3 and 4).

One worker, the flooding group in compressed time, sent in phases so commands land at known
moments. The readings of ``flood-HC-01`` are sent as source ``pump:ST:01`` (a source id with
colons, which the contract accepts): its level shift at 00:20 opens an alert that must be
acknowledgeable. ``flood-ST-01`` gets a level shift from 00:30 to 00:55 while a silence holds
it: the firing is recorded with status ``silenced``; an ``unsilence`` at 00:40 lifts it and the
alert fires openly again. Silences the policy or the catalog refuses are dead-lettered with the
field.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, WorkerProcess, opened, running

from dashboards.commands import build_command, command_key
from dashboards.protocol import CommandRequest
from ioc.events import Alert, Command, DeadLetter, split_alert_id
from ioc.tools.anomalies import AnomalyPlan, place
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COLON = "pump:ST:01"
SHIFT = MIDNIGHT + 20 * 60
HELD = MIDNIGHT + 30 * 60
LIFT = MIDNIGHT + 40 * 60
END = MIDNIGHT + 50 * 60
PLAN = AnomalyPlan([
    place("flooding", "flood-HC-01", "flood_depth", "level_shift", SHIFT, 15 * 60),
    place("flooding", "flood-ST-01", "flood_depth", "level_shift", HELD, 25 * 60),
])
_ids = itertools.count()


@dataclass
class Story:
    trail: Trail
    dead: list[DeadLetter]
    colon: str
    held: str
    refused: dict[str, str]   # command_id -> what was wrong


def records(trail: Trail, aid: str) -> list[Alert]:
    return sorted({(a.version, a.change): a for a in trail.alerts()
                   if a.alert_id == aid}.values(), key=lambda a: a.version)


def first_open(trail: Trail, source: str) -> str | None:
    got = [a.alert_id for a in opened(trail.alerts()) if a.source == source]
    return got[0] if got else None


@pytest.fixture(scope="module")
def story(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("silences"))
    trail = Trail(env)
    dead = Trail(env, env.names.deadletter)
    sim = CitySimulator(seed=23, start=MIDNIGHT, duration=END - MIDNIGHT, anomalies=PLAN,
                        groups=["flooding"], pack_size=10)
    stream = list(sim.messages())

    def send(lo: float, hi: float, w: WorkerProcess) -> None:
        for t, msgs in stream:
            if lo <= t < hi:
                for m in msgs:
                    if m.key == "flood-HC-01":   # the same data under a source id with ':'
                        env.send_raw("flooding", COLON,
                                     m.payload().replace(b'"flood-HC-01"', b'"pump:ST:01"'))
                    else:
                        env.send_raw("flooding", m.key, m.payload())
        env.producer.flush(60)
        try:
            w.wait_clock(hi - 31)
        except AssertionError as exc:  # say why: the worker's last lines and its health
            raise AssertionError(f"{exc}; health {w.health()}; log: {w.tail(40)}") from None

    def cmd(action: str, at: float, **kw: object) -> Command:
        c = Command(command_id=f"{action}-{next(_ids)}", action=action,  # type: ignore[arg-type]
                    user="operator", ts=at, **kw)  # type: ignore[arg-type]
        env.command(c, key=COLON)  # one partition: commands apply in the order sent
        return c

    def raw_cmd(**kw: object) -> str:
        """A command the contract refuses (a test cannot build it as a Command)."""
        body = {"command_id": f"raw-{next(_ids)}", "user": "operator", **kw}
        env.producer.send_raw(env.names.commands, COLON, json.dumps(body).encode())
        env.producer.flush(30)
        return str(body["command_id"])

    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            send(MIDNIGHT, MIDNIGHT + 25 * 60, w)
            colon = trail.wait(lambda t: first_open(t, COLON), 60, f"{COLON} to open")
            at = MIDNIGHT + 25 * 60
            # as the dashboard builds it (it refused such ids: "expected detector:group:...")
            ack = build_command(CommandRequest(action="ack", alert_id=colon, reason="crew sent",
                                               name="Director Tran"),
                                role="operator", now=at, command_id="ack-colon")
            env.command(ack, key=command_key(ack))
            trail.wait(lambda t: any(a.change == "acknowledged" for a in records(t, colon)),
                       60, "the ack of the alert on a source id with ':'")
            refused = {
                cmd("silence", at, matchers={"category": "city"}, until=at + 3600,
                    reason="too broad").command_id: "matchers",
                cmd("silence", at, matchers={"group": "flooding"}, until=at + 2 * 86_400,
                    reason="too long").command_id: "until",
                raw_cmd(action="silence", ts=at, matchers={"group": "no-such-group"},
                        until=at + 3600): "matchers.group",
            }
            hold = cmd("silence", at, matchers={"group": "flooding", "source": "flood-ST-01"},
                       until=END + 3600, reason="tower recalibration")
            # commands of one partition apply in order: once this note is in, so is the silence
            cmd("note", at, alert_id=colon, text="pump truck on site")
            trail.wait(lambda t: any(a.change == "note" for a in records(t, colon)), 60,
                       "the note after the silence")
            send(MIDNIGHT + 25 * 60, LIFT, w)
            held = trail.wait(lambda t: first_open(t, "flood-ST-01"), 60,
                              "the firing of flood-ST-01 during its silence")
            cmd("unsilence", LIFT, silence_id=hold.command_id, reason="recalibrated")
            trail.wait(lambda t: any(a.change == "unsilenced" for a in records(t, held)), 60,
                       "the unsilenced record")
            send(LIFT, END, w)
            trail.settle()
            letters = dead.wait(lambda d: [x for x in d.dead_letters()
                                           if x.topic == env.names.commands] or None, 60,
                                "the refused silences on the dead-letter topic")
            dead.settle()
            letters = [x for x in dead.dead_letters() if x.topic == env.names.commands]
        yield Story(trail, letters, colon, held, refused)
    finally:
        trail.close()
        dead.close()
        env.close()


def test_an_alert_on_a_source_id_with_colons_can_be_acknowledged(story: Story) -> None:
    assert split_alert_id(story.colon)[2] == COLON and "%3A" in story.colon
    recs = records(story.trail, story.colon)
    ack = next(a for a in recs if a.change == "acknowledged")
    assert (ack.status, ack.user, ack.reason, ack.source) == (
        "acknowledged", "operator", "crew sent", COLON)   # the declared name is not recorded
    assert any(a.change == "note" for a in recs)


def test_refused_silences_are_dead_lettered_with_their_field(story: Story) -> None:
    got = {json.loads(d.raw)["command_id"]: d.field for d in story.dead}
    assert got == story.refused, [(d.field, d.reason) for d in story.dead]
    broad = next(d for d in story.dead if d.field == "matchers")
    assert "supervisor" in broad.reason


def test_a_firing_during_a_silence_is_recorded_silenced(story: Story) -> None:
    recs = records(story.trail, story.held)
    first = recs[0]
    assert (first.change, first.version, first.status) == ("opened", 1, "silenced")
    assert (first.user, first.reason) == ("operator", "tower recalibration")
    assert first.silenced_until == END + 3600


def test_unsilence_lifts_the_silence_and_the_alert_fires_again(story: Story) -> None:
    recs = records(story.trail, story.held)
    i = next(i for i, a in enumerate(recs) if a.change == "unsilenced")
    lifted = recs[i]
    assert (lifted.status, lifted.user, lifted.silenced_until) == ("firing", "operator", None)
    assert lifted.reason is not None and "lifted" in lifted.reason
    assert all(a.status == "silenced" for a in recs[:i])
    assert lifted.count > 1, "the updates held while silenced come back with it"
    assert any(a.change in ("updated", "escalated") and a.status == "firing"
               for a in recs[i + 1:]), "fires openly after the unsilence"
    assert [a.version for a in recs] == list(range(1, len(recs) + 1))
