"""The alert lifecycle: lanes, hysteresis, flapping, escalation, commands, silences, restarts."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ioc.errors import ConfigError, ValidationError
from ioc.events import Alert, Command, Evidence, alert_id, decode_alert, decode_command, encode
from ioc.settings import Settings
from streams.lifecycle import (
    AlertBook,
    EscalationPolicy,
    Verdict,
    clean_evidence,
    evidence_from,
    lane_key,
    split_alert_id,
    title_for,
)
from streams.silences import SilenceBook

T0 = 1_795_410_000.0
W = 60.0
G, D, S, M = "flooding", "Hai Chau", "flood-HC-01", "flood_depth"
AID = f"robust_z:{G}:{S}:{M}"


def ev(detector: str = "robust_z", *, end: float, score: float = 0.95, value: float = 34.0,
       baseline: float = 2.0, threshold: float | None = 4.0, raw: float = 5.2,
       recent: list[float] | None = None) -> Evidence:
    return Evidence(window_start=end - W, window_end=end, value=value, baseline=baseline,
                    threshold=threshold, score=score, raw=raw, detector=detector,
                    detector_version="1", params={"threshold": threshold},
                    recent=recent if recent is not None else [2.0, 2.2, value])


def fire(detector: str = "robust_z", *, end: float, health: bool = False, **kw: Any) -> Verdict:
    return Verdict(firing=True, health=health, evidence=ev(detector, end=end, **kw))


def calm(detector: str = "robust_z", *, end: float, health: bool = False) -> Verdict:
    return Verdict(firing=False, health=health,
                   evidence=ev(detector, end=end, score=0.1, value=2.0, raw=0.3))


class Rig:
    """A book, its silences and a recorder of everything published."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("resolve_after", 3)
        kw.setdefault("flap_window_s", 600.0)
        kw.setdefault("escalation", EscalationPolicy(escalate_after_s=math.inf))
        self.store: dict[str, bytes] = {}
        self.sil_store: dict[str, bytes] = {}
        self.book = AlertBook(self.store, **kw)
        self.silences = SilenceBook(self.sil_store)
        self.records: list[Alert] = []

    def window(self, i: int, *verdicts: Verdict, source: str = S, metric: str = M,
               group: str = G, district: str = D) -> list[Alert]:
        out = self.book.observe(group=group, district=district, source=source, metric=metric,
                                verdicts=list(verdicts), ts=T0 + i * W, silences=self.silences)
        self.records += out
        return out

    def fire(self, i: int, detector: str = "robust_z", **kw: Any) -> list[Alert]:
        return self.window(i, fire(detector, end=T0 + i * W, **kw))

    def calm(self, i: int, detector: str = "robust_z", **kw: Any) -> list[Alert]:
        return self.window(i, calm(detector, end=T0 + i * W, **kw))

    def cmd(self, action: str, i: float, *, cid: str | None = None, **kw: Any) -> list[Alert]:
        kw.setdefault("user", "lan")
        if action in ("ack", "resolve", "note"):
            kw.setdefault("alert_id", AID)
        c = Command(command_id=cid or f"{action}-{i}", action=action,  # type: ignore[arg-type]
                    ts=T0 + i * W, **kw)
        out = self.book.command(c, now=T0 + i * W, silences=self.silences)
        self.records += out
        return out

    def tick(self, i: float) -> list[Alert]:
        out = self.book.tick(T0 + i * W, self.silences)
        self.records += out
        return out


def changes(records: list[Alert]) -> list[str]:
    return [r.change for r in records]


# --- open, update, severity ----------------------------------------------------------------


def test_first_firing_opens_one_alert_with_its_evidence() -> None:
    rig = Rig()
    (a,) = rig.fire(1)
    assert (a.alert_id, a.version, a.change, a.status) == (AID, 1, "opened", "firing")
    assert (a.category, a.group, a.district, a.source, a.metric) == ("city", G, D, S, M)
    assert (a.first_seen, a.last_seen, a.count, a.updated_at) == (T0 + W, T0 + W, 1, T0 + W)
    e = a.evidence
    assert (e.window_start, e.window_end, e.baseline, e.threshold, e.score) == (
        T0, T0 + W, 2.0, 4.0, 0.95)
    assert (e.detector, e.detector_version, e.params, e.recent) == (
        "robust_z", "1", {"threshold": 4.0}, [2.0, 2.2, 34.0])
    assert a.title == "Flood depth 34 cm at flood tower 01, Hai Chau: above its normal 0–8 cm"
    assert (a.user, a.reason) == (None, None)


def test_repeat_firing_updates_count_last_seen_and_evidence() -> None:
    rig = Rig()
    rig.fire(1)
    (a,) = rig.fire(2, value=36.0, raw=5.5)
    assert (a.change, a.version, a.count, a.first_seen, a.last_seen) == (
        "updated", 2, 2, T0 + W, T0 + 2 * W)
    assert a.evidence.value == 36.0 and a.evidence.window_end == T0 + 2 * W


def test_severity_starts_from_how_far_past_the_threshold_and_never_goes_down() -> None:
    rig = Rig()
    assert rig.fire(1, raw=5.0)[0].severity == "warning"       # 1.25x the threshold
    (up,) = rig.fire(2, raw=7.0)                                # 1.75x -> major
    assert (up.change, up.severity) == ("escalated", "major")
    assert "robust_z" in (up.reason or "")
    (crit,) = rig.fire(3, raw=13.0)                             # 3.25x -> critical
    assert crit.severity == "critical"
    (down,) = rig.fire(4, raw=4.1)
    assert (down.change, down.severity) == ("updated", "critical")


def test_severity_from_score_when_evidence_has_no_threshold() -> None:
    p = EscalationPolicy()
    def sev(score: float) -> str:
        return p.initial(ev(end=T0, threshold=None, score=score), health=False)
    assert [sev(0.9), sev(0.9995), sev(1.0)] == ["warning", "major", "critical"]


def test_duration_escalates_one_step_per_period_while_firing() -> None:
    rig = Rig(escalation=EscalationPolicy(escalate_after_s=600.0))
    rig.fire(0)
    assert rig.tick(9) == []
    (a,) = rig.tick(10)
    assert (a.change, a.severity, a.reason) == ("escalated", "major", "firing for 10 min")
    assert rig.tick(10) == [] and rig.tick(15) == []
    assert rig.tick(20)[0].severity == "critical"
    assert rig.tick(100) == []                                  # capped


def test_duration_escalation_also_applies_on_a_firing_window() -> None:
    rig = Rig(escalation=EscalationPolicy(escalate_after_s=600.0))
    rig.fire(0)
    (a,) = rig.fire(10)
    assert (a.change, a.severity, a.reason) == ("escalated", "major", "firing for 10 min")


def test_acknowledged_alerts_do_not_escalate_by_duration() -> None:
    rig = Rig(escalation=EscalationPolicy(escalate_after_s=600.0))
    rig.fire(0)
    rig.cmd("ack", 1, reason="crew sent")
    assert rig.tick(30) == []
    (a,) = rig.fire(31)
    assert (a.change, a.status, a.severity) == ("updated", "acknowledged", "warning")


def test_sensor_health_starts_at_warning_and_escalates_no_higher_than_major() -> None:
    rig = Rig(escalation=EscalationPolicy(escalate_after_s=600.0))
    (a,) = rig.fire(0, "physical_range", health=True, value=999.0, raw=999.0, threshold=1.0)
    assert (a.category, a.severity) == ("sensor_health", "warning")
    assert "outside the sensor's range 0–400 cm" in a.title
    assert [r.severity for r in rig.tick(10)] == ["major"]
    assert rig.tick(60) == []


@pytest.mark.parametrize("kw", [
    {"major_ratio": 0.5}, {"major_ratio": 4.0, "critical_ratio": 3.0}, {"major_score": 0.0},
    {"escalate_after_s": 0.0}, {"city_max": "fatal"}, {"health_start": "critical"},
])
def test_bad_escalation_policy_is_a_config_error(kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="escalation"):
        EscalationPolicy(**kw)


@pytest.mark.parametrize("kw", [{"resolve_after": 0}, {"flap_window_s": -1.0},
                                {"max_flap_boost": -1}])
def test_bad_book_options_are_config_errors(kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        AlertBook({}, **kw)


def test_from_settings_uses_resolve_after_windows() -> None:
    book = AlertBook.from_settings({}, Settings(resolve_after_windows=5))
    assert book.resolve_after == 5


# --- hysteresis and flapping ---------------------------------------------------------------


def test_auto_resolve_after_n_normal_windows_in_a_row() -> None:
    rig = Rig(resolve_after=3)
    rig.fire(1)
    assert rig.calm(2) == [] and rig.calm(3) == []
    rig.fire(4)                                                 # resets the count
    assert rig.calm(5) == [] and rig.calm(6) == []
    (r,) = rig.calm(7)
    assert (r.change, r.status, r.version, r.user) == ("auto_resolved", "resolved", 3, None)
    assert r.reason == "3 normal windows in a row"
    assert rig.calm(8) == [] and rig.calm(9) == []              # closed lane stays quiet


def test_a_window_counts_once_however_many_detectors_report_it() -> None:
    rig = Rig(resolve_after=2)
    rig.fire(1)
    assert rig.window(2, calm(end=T0 + 2 * W), calm("cusum", end=T0 + 2 * W)) == []
    assert changes(rig.window(3, calm(end=T0 + 3 * W))) == ["auto_resolved"]


def test_one_verdict_per_call_still_counts_whole_windows() -> None:
    rig = Rig(resolve_after=2)
    rig.fire(1)
    assert rig.calm(2) == [] and rig.calm(2, "cusum") == []
    assert changes(rig.calm(3)) == ["auto_resolved"]


def test_flapping_signal_does_not_storm_records() -> None:
    rig = Rig(resolve_after=3)
    for i in range(1, 41):
        (rig.fire if i % 2 else rig.calm)(i)
    assert changes(rig.records) == ["opened"] + ["updated"] * 19
    assert {r.alert_id for r in rig.records} == {AID}


def test_refiring_within_the_flap_window_reopens_the_same_alert_and_damps() -> None:
    rig = Rig(resolve_after=2, flap_window_s=600.0)
    rig.fire(1)
    rig.calm(2)
    rig.calm(3)                                                 # auto_resolved
    (re,) = rig.fire(5)
    assert (re.change, re.alert_id, re.version, re.status) == ("reopened", AID, 3, "firing")
    assert (re.count, re.first_seen) == (2, T0 + W)
    for i in range(6, 9):                                       # now needs 2 * 2 windows
        assert rig.calm(i) == []
    assert changes(rig.calm(9)) == ["auto_resolved"]
    rig.fire(10)
    assert all(rig.calm(i) == [] for i in range(11, 16))        # 3 * 2 windows
    assert changes(rig.calm(16)) == ["auto_resolved"]
    versions = [r.version for r in rig.records]
    assert versions == list(range(1, len(versions) + 1))


def test_firing_after_the_flap_window_opens_a_new_episode_with_the_next_version() -> None:
    rig = Rig(resolve_after=1, flap_window_s=120.0)
    rig.fire(1)
    rig.calm(2)
    rig.fire(2)                                                 # same window again: replay
    (a,) = rig.fire(10)
    assert (a.change, a.version, a.count, a.first_seen) == ("opened", 3, 1, T0 + 10 * W)
    assert rig.calm(11)[0].change == "auto_resolved"            # flap damping was reset


# --- lanes ---------------------------------------------------------------------------------


def test_two_detectors_of_one_lane_firing_together_give_one_alert() -> None:
    rig = Rig()
    end = T0 + W
    out = rig.window(1, fire("robust_z", end=end, score=0.97), fire("threshold", end=end,
                                                                     score=0.99))
    assert [(a.alert_id, a.change) for a in out] == [(f"threshold:{G}:{S}:{M}", "opened")]


def test_a_second_detector_of_the_lane_updates_the_open_alert() -> None:
    rig = Rig()
    rig.fire(1, "robust_z")
    (a,) = rig.fire(2, "cusum", raw=6.0, threshold=5.0)
    assert (a.alert_id, a.change, a.detector, a.evidence.detector) == (
        AID, "updated", "robust_z", "cusum")
    rig.calm(3, "cusum")
    rig.calm(4, "cusum")
    assert changes(rig.calm(5, "cusum")) == ["auto_resolved"]


def test_health_and_city_detectors_give_two_alerts_in_two_categories() -> None:
    rig = Rig()
    end = T0 + W
    out = rig.window(1, fire("robust_z", end=end),
                     fire("stuck", end=end, health=True, value=2.0, raw=12.0, threshold=10.0),
                     calm("physical_range", end=end, health=True))
    assert sorted((a.category, a.detector) for a in out) == [
        ("city", "robust_z"), ("sensor_health", "stuck")]
    stuck = next(a for a in out if a.category == "sensor_health")
    assert stuck.title == "Flood depth stuck at 2 cm at flood tower 01, Hai Chau"
    assert set(rig.store) == {lane_key(G, S, M, "city"), lane_key(G, S, M, "sensor_health")}


def test_each_source_and_metric_is_its_own_key() -> None:
    rig = Rig()
    rig.fire(1)
    (other,) = rig.window(1, fire(end=T0 + W), source="flood-HC-02")
    assert other.alert_id == f"robust_z:{G}:flood-HC-02:{M}" and other.version == 1


# --- commands ------------------------------------------------------------------------------


def test_ack_keeps_the_alert_visible_and_updating_until_resolved() -> None:
    rig = Rig()
    rig.fire(1)
    (a,) = rig.cmd("ack", 1.5, reason="crew sent")
    assert (a.change, a.status, a.user, a.reason, a.version) == (
        "acknowledged", "acknowledged", "lan", "crew sent", 2)
    (u,) = rig.fire(2)
    assert (u.change, u.status, u.count, u.user, u.reason) == (
        "updated", "acknowledged", 2, "lan", "crew sent")
    assert rig.cmd("ack", 2.5, user="minh") == []              # already acknowledged
    (r,) = rig.cmd("resolve", 3, user="minh", reason="water pumped out")
    assert (r.change, r.status, r.user, r.reason) == (
        "resolved", "resolved", "minh", "water pumped out")
    assert rig.cmd("resolve", 3.5) == [] and rig.cmd("ack", 3.6) == []


def test_note_appends_with_user_and_bumps_the_version() -> None:
    rig = Rig()
    rig.fire(1)
    (n,) = rig.cmd("note", 1.5, text="  camera 4 shows water at the kerb ", reason="context")
    assert (n.change, n.version, n.status, n.user, n.reason) == (
        "note", 2, "firing", "lan", "context")
    assert [(x.user, x.text, x.ts) for x in n.notes] == [
        ("lan", "camera 4 shows water at the kerb", T0 + 1.5 * W)]
    (u,) = rig.fire(2)
    assert len(u.notes) == 1 and u.user is None                 # notes stay, author does not


def test_notes_are_allowed_on_a_resolved_alert() -> None:
    rig = Rig()
    rig.fire(1)
    rig.cmd("resolve", 2)
    (n,) = rig.cmd("note", 3, text="post-mortem: drain blocked")
    assert (n.status, n.version, len(n.notes)) == ("resolved", 3, 1)


def test_a_replayed_command_changes_nothing() -> None:
    rig = Rig()
    rig.fire(1)
    (n,) = rig.cmd("note", 2, cid="n1", text="hello")
    again = rig.cmd("note", 2, cid="n1", text="hello")
    assert again == [n]                                         # same record, same version
    assert rig.book.get(AID) == n


def test_the_trail_names_the_person_behind_every_command_and_no_one_for_sensors() -> None:
    rig = Rig()
    (opened,) = rig.fire(1)
    assert (opened.user, opened.display_name) == (None, None)        # the sensors opened it
    lan = {"user": "operator:lan", "display_name": "Lan Nguyen"}
    (ack,) = rig.cmd("ack", 2, cid="a1", reason="crew sent", **lan)
    assert (ack.change, ack.user, ack.display_name, ack.reason) == (
        "acknowledged", "operator:lan", "Lan Nguyen", "crew sent")
    (upd,) = rig.fire(3)                      # an update keeps who put it in its status
    assert (upd.change, upd.user, upd.display_name) == ("updated", "operator:lan", "Lan Nguyen")
    (note,) = rig.cmd("note", 4, cid="n1", text="pump started", user="operator:minh",
                      display_name="Minh Tran")
    assert (note.user, note.display_name) == ("operator:minh", "Minh Tran")
    assert (note.notes[-1].user, note.notes[-1].display_name) == ("operator:minh", "Minh Tran")
    assert rig.cmd("ack", 4.5, cid="a1", **lan) == [note]      # replayed: nothing changes
    assert rig.book.get(AID) == note
    (res,) = rig.cmd("resolve", 5, cid="r1", user="supervisor:hoa", display_name="Hoa Le")
    assert (res.user, res.display_name) == ("supervisor:hoa", "Hoa Le")
    (again,) = rig.fire(6)                                     # reopened by the sensors
    assert (again.change, again.user, again.display_name) == ("reopened", None, None)
    for i in range(7, 20):
        rig.calm(i)
    auto = rig.records[-1]
    assert (auto.change, auto.user, auto.display_name) == ("auto_resolved", None, None)
    decoded = decode_alert(encode(res))
    assert decoded == res and isinstance(decoded, Alert)


def test_a_silence_and_its_lifting_name_their_people() -> None:
    rig = Rig()
    rig.fire(1)
    rig.cmd("silence", 1.5, cid="s1", matchers={"source": S}, until=T0 + 60 * W,
            user="supervisor:hoa", display_name="Hoa Le")
    (s,) = rig.tick(1.5)
    assert (s.change, s.user, s.display_name) == ("silenced", "supervisor:hoa", "Hoa Le")
    rig.cmd("unsilence", 2, cid="u1", silence_id="s1", user="operator:lan",
            display_name="Lan Nguyen")
    (u,) = rig.tick(2)
    assert (u.change, u.user, u.display_name) == ("unsilenced", "operator:lan", "Lan Nguyen")


def test_records_and_commands_without_display_names_still_decode() -> None:
    """Alerts and lanes written before display names decode with None."""
    old = (b'{"type":"alert","alert_id":"robust_z:flooding:flood-HC-01:flood_depth",'
           b'"version":2,"status":"acknowledged","severity":"major","category":"city",'
           b'"group":"flooding","district":"Hai Chau","source":"flood-HC-01",'
           b'"metric":"flood_depth","detector":"robust_z","title":"t","first_seen":1.0,'
           b'"last_seen":2.0,"count":1,"updated_at":2.0,"change":"acknowledged",'
           b'"user":"operator","notes":[{"ts":2.0,"user":"operator","text":"x"}],'
           b'"evidence":{"window_start":0.0,"window_end":60.0,"value":1.0,"baseline":0.0,'
           b'"threshold":null,"score":0.9,"raw":3.0,"detector":"robust_z",'
           b'"detector_version":"1","params":{},"recent":[]}}')
    rec = decode_alert(old)
    assert isinstance(rec, Alert)
    assert (rec.user, rec.display_name, rec.notes[0].display_name) == ("operator", None, None)
    rig = Rig()
    rig.fire(1)
    rig.cmd("ack", 2, cid="a1", user="operator")               # a shared token: no name
    assert rig.book.get(AID).display_name is None  # type: ignore[union-attr]


def test_unknown_or_malformed_alert_ids_are_validation_errors() -> None:
    rig = Rig()
    rig.fire(1)
    with pytest.raises(ValidationError, match="no alert 'robust_z:flooding:x:flood_depth'"):
        rig.cmd("ack", 2, alert_id="robust_z:flooding:x:flood_depth")
    with pytest.raises(ValidationError, match="detector:group:source:metric"):
        rig.cmd("ack", 2, alert_id="nonsense")


def test_a_superseded_alert_id_is_a_validation_error() -> None:
    rig = Rig(resolve_after=1, flap_window_s=0.0)
    rig.fire(1, "robust_z")
    rig.calm(2, "robust_z")
    rig.fire(5, "cusum")                                        # new episode, new owner
    with pytest.raises(ValidationError, match="is closed; its lane now tracks 'cusum:"):
        rig.cmd("note", 6, text="late note")


def test_split_alert_id_keeps_colons_in_sources() -> None:
    assert alert_id("d", "g", "a:b", "m") == "d:g:a%3Ab:m"
    assert split_alert_id("d:g:a%3Ab:m") == ("d", "g", "a:b", "m")
    with pytest.raises(ValidationError, match="expected detector:group:source:metric"):
        split_alert_id("d:g:a:b:m")  # ambiguous: which colon ends the source?


# --- silences ------------------------------------------------------------------------------


def silence(rig: Rig, i: float, until_i: float, cid: str = "s1",
            **matchers: str) -> list[Alert]:
    """A silence command, then a tick at the same time (as the command agent does)."""
    assert rig.cmd("silence", i, cid=cid, reason="pump maintenance",
                   matchers=matchers or {"group": G, "district": D},
                   until=T0 + until_i * W) == []
    return rig.tick(i)


def test_a_silence_command_only_stores_the_silence() -> None:
    rig = Rig()
    rig.fire(1)
    assert rig.cmd("silence", 1.5, cid="s1", matchers={"source": S}, until=T0 + 9 * W) == []
    assert list(rig.sil_store) == ["s1"]
    (s,) = rig.fire(2)                                          # the lane's next window
    assert (s.change, s.status, s.user, s.reason) == ("silenced", "silenced", "lan", None)


def test_tick_only_touches_the_sources_it_is_told_it_owns() -> None:
    rig = Rig(escalation=EscalationPolicy(escalate_after_s=600.0))
    rig.fire(0)
    rig.window(0, fire(end=T0), source="flood:HC:02")
    (a,) = rig.book.tick(T0 + 600, rig.silences, owns=lambda src: src == "flood:HC:02")
    assert (a.source, a.change) == ("flood:HC:02", "escalated")
    assert [x.source for x in rig.book.alerts(owns=lambda src: src == S)] == [S]
    assert rig.book.open_counts(owns=lambda src: src == S) == {(G, "warning"): 1}


def test_a_silence_command_silences_open_alerts_and_hides_their_updates() -> None:
    rig = Rig()
    rig.fire(1)
    (s,) = silence(rig, 1.5, 10)
    assert (s.change, s.status, s.silenced_until, s.user, s.reason) == (
        "silenced", "silenced", T0 + 10 * W, "lan", "pump maintenance")
    assert rig.fire(2) == [] and rig.fire(3) == []
    (u,) = rig.tick(10)
    assert (u.change, u.status, u.silenced_until, u.count, u.version, u.user) == (
        "unsilenced", "firing", None, 3, 3, None)


def test_a_firing_during_a_silence_is_recorded_silenced() -> None:
    """Issue 9 defect 3: a firing while silenced used to leave no record at all."""
    rig = Rig()
    assert silence(rig, 0, 10, source=S) == []
    (a,) = rig.fire(1)
    assert (a.change, a.version, a.status, a.silenced_until, a.user, a.reason) == (
        "opened", 1, "silenced", T0 + 10 * W, "lan", "pump maintenance")
    assert rig.fire(2) == []                                    # updates held, not published
    assert rig.book.get(AID) is not None
    (u, f) = rig.fire(10)                                       # the silence has ended
    assert (u.change, u.version, u.status, u.count, u.silenced_until) == (
        "unsilenced", 2, "firing", 2, None)
    assert (f.change, f.version, f.status, f.count) == ("updated", 3, "firing", 3)


def test_silences_match_only_their_fields() -> None:
    rig = Rig()
    silence(rig, 0, 10, category="sensor_health")
    out = rig.window(1, fire(end=T0 + W), fire("stuck", end=T0 + W, health=True))
    assert [(a.category, a.status) for a in out] == [("city", "firing"),
                                                     ("sensor_health", "silenced")]


def test_a_severity_matcher_holds_only_that_severity() -> None:
    rig = Rig()
    silence(rig, 0, 10, group=G, severity="warning")
    (a,) = rig.fire(1, raw=5.0)                                 # warning: held
    assert a.status == "silenced"
    (b,) = rig.fire(2, raw=7.0)                                 # major now: out of the silence
    assert (b.change, b.status, b.severity) == ("unsilenced", "firing", "major")


def test_unsilence_lifts_a_silence_and_its_alerts_come_back_with_their_updates() -> None:
    rig = Rig()
    rig.fire(1)
    (s,) = silence(rig, 1.5, 60)
    assert s.status == "silenced"
    assert rig.fire(2) == [] and rig.fire(3) == []
    assert rig.cmd("unsilence", 3.5, cid="u1", user="operator", silence_id="s1") == []
    (u,) = rig.tick(3.5)                                        # the lane's next tick
    assert (u.change, u.status, u.count, u.silenced_until, u.version) == (
        "unsilenced", "firing", 3, None, s.version + 1)
    assert (u.user, u.reason) == ("operator", "silence s1 lifted")
    assert rig.silences.get("s1") is not None and not rig.silences.active(T0 + 4 * W)
    (f,) = rig.fire(4)                                          # fires openly again
    assert (f.change, f.status) == ("updated", "firing")


def test_unsilence_is_idempotent_and_refuses_unknown_silences() -> None:
    rig = Rig()
    rig.fire(1)
    silence(rig, 1.5, 60)
    assert rig.cmd("unsilence", 2, cid="u1", silence_id="s1") == []
    assert rig.cmd("unsilence", 2.5, cid="u1", silence_id="s1") == []   # replayed
    assert rig.cmd("silence", 1.5, cid="s1", reason="pump maintenance",   # replayed silence
                   matchers={"group": G, "district": D}, until=T0 + 60 * W) == []
    (u,) = rig.tick(3)
    assert u.change == "unsilenced"
    assert rig.tick(4) == []
    with pytest.raises(ValidationError) as info:
        rig.cmd("unsilence", 5, cid="u2", silence_id="no-such-silence")
    assert info.value.field == "silence_id"


def test_an_acknowledged_alert_unsilenced_by_hand_stays_acknowledged() -> None:
    rig = Rig()
    rig.fire(1)
    rig.cmd("ack", 1.2, reason="on it")
    silence(rig, 1.5, 60)
    rig.cmd("unsilence", 2, cid="u1", user="operator", silence_id="s1")
    (u,) = rig.tick(2)
    assert (u.change, u.status, u.user) == ("unsilenced", "acknowledged", "operator")


def test_the_book_applies_the_silence_policy_of_its_settings() -> None:
    book = AlertBook.from_settings({}, Settings(max_silence_s=3600.0))
    sil = SilenceBook({})

    def silence_cmd(cid: str, user: str, length: float, **matchers: str) -> Command:
        return Command(command_id=cid, action="silence", user=user, ts=T0,
                       until=T0 + length, matchers=matchers)

    for cmd, field in [(silence_cmd("a", "operator", 7200.0, group=G), "until"),
                       (silence_cmd("b", "operator", 600.0, category="city"), "matchers"),
                       (silence_cmd("c", "operator:desk", 600.0, source=S), "matchers")]:
        with pytest.raises(ValidationError) as info:
            book.command(cmd, now=T0, silences=sil)
        assert info.value.field == field
    book.command(silence_cmd("d", "supervisor", 600.0, category="city"), now=T0, silences=sil)
    book.command(silence_cmd("e", "operator", 3600.0, group=G), now=T0, silences=sil)
    assert sorted(sil.store) == ["d", "e"]
    broad = AlertBook.from_settings({}, Settings(operators_may_silence_broadly=True))
    broad.command(silence_cmd("f", "operator", 600.0, category="city"), now=T0, silences=sil)
    assert "f" in sil.store


_SOURCE_IDS = st.text(st.characters(codec="utf-8").filter(str.isprintable), min_size=1,
                      max_size=128)


@settings(max_examples=200, deadline=None)
@given(source=_SOURCE_IDS)
def test_every_alert_that_can_open_can_be_acked_noted_and_resolved(source: str) -> None:
    """Issue 9 defect 4: ids of sources holding ':' (or '%') could not be acted on."""
    rig = Rig()
    (a,) = rig.window(1, fire(end=T0 + W), source=source)
    assert split_alert_id(a.alert_id) == ("robust_z", G, source, M)
    wire = decode_command(encode(Command(command_id="c1", action="ack", user="operator",
                                         ts=T0 + 2 * W, alert_id=a.alert_id)))
    (k,) = rig.book.command(wire, now=T0 + 2 * W, silences=rig.silences)
    (n,) = rig.cmd("note", 3, alert_id=a.alert_id, text="crew on site")
    (r,) = rig.cmd("resolve", 4, alert_id=a.alert_id)
    assert [(x.alert_id, x.change) for x in (k, n, r)] == [
        (a.alert_id, "acknowledged"), (a.alert_id, "note"), (a.alert_id, "resolved")]
    assert r.source == source and r.version == 4


def test_silence_reaches_an_alert_on_its_next_window_or_tick() -> None:
    rig = Rig()
    rig.fire(1)
    rig.silences.add(Command(command_id="s9", action="silence", user="an", ts=T0,
                             matchers={"alert_id": AID}, until=T0 + 10 * W))
    (s,) = rig.fire(2)
    assert (s.change, s.status, s.user) == ("silenced", "silenced", "an")


def test_an_acknowledged_alert_returns_to_acknowledged_after_its_silence() -> None:
    rig = Rig()
    rig.fire(1)
    silence(rig, 1.2, 5)
    (a,) = rig.cmd("ack", 1.5, reason="on it")
    assert (a.change, a.status) == ("acknowledged", "silenced")
    (u,) = rig.tick(5)
    assert (u.change, u.status, u.user, u.reason) == ("unsilenced", "acknowledged", "lan",
                                                      "on it")


def test_a_silenced_alert_auto_resolves_visibly() -> None:
    rig = Rig(resolve_after=2)
    rig.fire(1)
    silence(rig, 1.5, 50)
    rig.calm(2)
    (r,) = rig.calm(3)
    assert (r.change, r.status, r.silenced_until) == ("auto_resolved", "resolved", None)


def test_a_longer_silence_extends_silenced_until() -> None:
    rig = Rig()
    rig.fire(1)
    silence(rig, 1.5, 5)
    (s,) = silence(rig, 2, 20, cid="s2")
    assert (s.change, s.silenced_until) == ("silenced", T0 + 20 * W)


def test_a_late_window_after_the_silence_ended_does_not_silence_again() -> None:
    rig = Rig()
    rig.fire(1)
    silence(rig, 1.5, 5)
    assert changes(rig.tick(8)) == ["unsilenced"]
    (u,) = rig.fire(4)                                          # a late window, stream time 4
    assert (u.change, u.status, u.updated_at) == ("updated", "firing", T0 + 8 * W)


# --- records, evidence, titles -------------------------------------------------------------


def test_records_round_trip_through_the_wire_format() -> None:
    rig = Rig()
    rig.window(1, Verdict(firing=True, health=True, evidence=ev(
        "silence", end=T0 + W, value=math.nan, baseline=math.nan, raw=math.inf,
        threshold=math.nan, recent=[1.0, math.nan, 2.0])))
    rig.fire(2)
    rig.cmd("note", 3, text="x")
    assert rig.records
    for r in rig.records:
        assert decode_alert(encode(r)) == r
    health = rig.records[0]
    assert health.evidence.detail["missing"] == ["value", "baseline", "raw", "threshold"]
    assert health.evidence.recent == [1.0, 2.0]
    assert health.title == "No data from flood tower 01, Hai Chau (Flood depth)"


def test_clean_evidence_keeps_finite_evidence_as_is() -> None:
    e = ev(end=T0)
    assert clean_evidence(e) is e


def test_evidence_from_a_detector_explanation() -> None:
    from detectors.base import Explanation
    e = evidence_from(Explanation(score=0.9, raw=4.0, baseline=math.nan, threshold=4.0,
                                  contributing=(1.0, 2.0), detail={"mad": 0.5}),
                      detector="robust_z", version="2", params={"threshold": 4.0},
                      window_start=T0, window_end=T0 + W, value=9.0)
    assert (e.baseline, e.detail, e.detector_version, e.recent) == (
        0.0, {"mad": 0.5, "missing": ["baseline"]}, "2", [1.0, 2.0])


@pytest.mark.parametrize(("group", "metric", "detector", "value", "baseline", "raw", "want"), [
    ("flooding", "flood_depth", "threshold", 34.0, 2.0, 34.0,
     "Flood depth 34 cm at x, Hai Chau: over the 20 cm limit"),
    ("traffic", "speed", "threshold", 8.5, 30.0, 8.5,
     "Speed 8.5 km/h at x, Hai Chau: under the 12 km/h limit"),
    ("environment", "pm25", "cusum", 61.25, 24.0, 9.0,
     "PM2.5 61.2 µg/m³ at x, Hai Chau: above its normal 8–45 µg/m³"),
    ("online_information", "negative_share", "robust_z", 52.0, 18.0, 6.0,
     "Negative share 52% at x, Hai Chau: above its normal 8–30%"),
    ("wastewater", "inflow", "robust_z", 1250.0, 420.0, -7.0,
     "Inflow 1,250 m³/h at x, Hai Chau: above its normal 200–700 m³/h"),
    ("nowhere", "thing", "ewma", 0.35, 1.0, 2.0,
     "Thing 0.35 at x, Hai Chau: below the usual 1"),
])
def test_titles_read_well_on_a_wall(group: str, metric: str, detector: str, value: float,
                                    baseline: float, raw: float, want: str) -> None:
    e = ev(detector, end=T0, value=value, baseline=baseline, raw=raw)
    assert title_for(group=group, district=D, source="x", metric=metric, ev=e) == want


def test_open_counts_and_alerts_listing() -> None:
    rig = Rig()
    rig.fire(1, raw=7.0)
    rig.window(1, fire(end=T0 + W), source="flood-HC-02")
    rig.window(1, fire("stuck", end=T0 + W, health=True), source="flood-HC-02")
    assert rig.book.open_counts() == {(G, "major"): 1, (G, "warning"): 2}
    assert len(list(rig.book.alerts())) == 3


# --- restarts ------------------------------------------------------------------------------

Step = tuple[str, Any]


def scenario() -> list[Step]:
    """Fire, escalate, ack, note, flap, silence, resolve: one input per step."""
    steps: list[Step] = [("fire", (1, {})), ("fire", (2, {"raw": 7.0})), ("ack", 2.5),
                         ("calm", 3), ("fire", (4, {})), ("note", 4.5), ("calm", 5),
                         ("calm", 6), ("calm", 7), ("fire", (8, {})), ("silence", 8.5),
                         ("fire", (9, {})), ("tick", 12), ("fire", (13, {})),
                         ("resolve", 13.5), ("fire", (14, {})), ("tick", 40)]
    steps += [("calm", i) for i in range(15, 25)]
    return steps


def run(rig: Rig, steps: list[Step]) -> list[Alert]:
    out: list[Alert] = []
    for kind, arg in steps:
        if kind == "fire":
            out += rig.fire(arg[0], **arg[1])
            out += rig.window(arg[0], fire(end=T0 + arg[0] * W, health=True,
                                           detector="stuck"))
        elif kind == "calm":
            out += rig.calm(arg)
            out += rig.window(arg, calm("stuck", end=T0 + arg * W, health=True))
        elif kind == "tick":
            out += rig.tick(arg)
        elif kind == "silence":
            out += silence(rig, arg, arg + 3, cid=f"s{arg}", source=S)
        elif kind == "note":
            out += rig.cmd("note", arg, text=f"note {arg}")
        else:
            out += rig.cmd(kind, arg)
    return out


def by_version(records: list[Alert]) -> dict[tuple[str, int], Alert]:
    seen: dict[tuple[str, int], Alert] = {}
    for r in records:
        key = (r.alert_id, r.version)
        assert seen.get(key, r) == r, f"{key} published twice with different content"
        seen[key] = r
    return seen


def assert_gapless(records: list[Alert]) -> None:
    last: dict[str, int] = {}
    for r in records:
        assert r.version == last.get(r.alert_id, 0) + 1, (r.alert_id, r.version, r.change)
        last[r.alert_id] = r.version


@pytest.mark.parametrize("cut", [3, 8, 11, 14, 20])
@pytest.mark.parametrize("back", [0, 1, 3, 6])
def test_restore_from_store_and_replay_neither_loses_nor_forks_a_version(
        cut: int, back: int) -> None:
    steps = scenario()
    full = Rig()
    records = run(full, steps)
    assert_gapless(records)
    assert {"opened", "escalated", "acknowledged", "note", "auto_resolved", "reopened",
            "silenced", "unsilenced", "resolved"} <= set(changes(records))
    first = Rig()
    before = run(first, steps[:cut])
    restored = Rig()
    restored.store.update(first.store)                          # the changelog, restored
    restored.sil_store.update(first.sil_store)
    after = run(restored, steps[max(0, cut - back):])           # uncommitted inputs again
    union = by_version(before + after)
    assert union == by_version(records)
    opened = [r for r in before + after if r.change == "opened"]
    assert len({(r.alert_id, r.version) for r in opened}) == len(
        [r for r in records if r.change == "opened"])


# --- properties ----------------------------------------------------------------------------

op = st.one_of(
    st.tuples(st.just("window"), st.lists(st.tuples(
        st.sampled_from(["robust_z", "cusum", "stuck", "physical_range"]), st.booleans(),
        st.floats(0.0, 1.0)), min_size=1, max_size=4)),
    st.tuples(st.sampled_from(["ack", "resolve", "note"]),
              st.sampled_from(["robust_z", "cusum", "stuck", "physical_range"])),
    st.tuples(st.just("silence"), st.integers(1, 6)),
    st.tuples(st.just("tick"), st.integers(0, 20)),
)


def apply(rig: Rig, i: int, o: Any) -> list[Alert]:
    kind, arg = o
    t = float(i)
    if kind == "window":
        vs = [Verdict(firing=f, health=d in ("stuck", "physical_range"),
                      evidence=ev(d, end=T0 + t * W, score=s, raw=8.0 * s))
              for d, f, s in {d: (d, f, s) for d, f, s in arg}.values()]
        return rig.window(i, *vs)
    if kind == "tick":
        return rig.tick(t + arg / 10)
    if kind == "silence":
        return silence(rig, t, t + arg, cid=f"s{i}", source=S)
    try:
        return rig.cmd(kind, t, cid=f"c{i}", alert_id=f"{arg}:{G}:{S}:{M}", text="n")
    except ValidationError:
        return []


@settings(max_examples=150, deadline=None)
@given(st.lists(op, min_size=1, max_size=40))
def test_versions_go_up_by_one_per_alert_and_records_encode(ops: list[Any]) -> None:
    rig = Rig(resolve_after=2, flap_window_s=180.0,
              escalation=EscalationPolicy(escalate_after_s=240.0))
    records: list[Alert] = []
    for i, o in enumerate(ops):
        records += apply(rig, i, o)
    assert_gapless(records)
    for change in sorted({r.change for r in records}):
        event(change)
    for r in records:
        assert decode_alert(encode(r)) == r
        assert (r.status == "silenced") == (r.silenced_until is not None)
        assert r.category == ("sensor_health" if r.detector in ("stuck", "physical_range")
                              else "city")
    current = [a.category for a in rig.book.alerts()]           # one episode per lane
    assert len(current) == len(set(current))


def assert_consistent(records: list[Alert]) -> None:
    """No (alert_id, version) with two contents, and every alert's versions are 1..n."""
    held = by_version(records)
    per: dict[str, list[int]] = {}
    for aid, v in held:
        per.setdefault(aid, []).append(v)
    for aid, vs in per.items():
        assert sorted(vs) == list(range(1, len(vs) + 1)), (aid, sorted(vs))


def rig_for_props() -> Rig:
    return Rig(resolve_after=2, flap_window_s=180.0,
               escalation=EscalationPolicy(escalate_after_s=240.0))


@settings(max_examples=100, deadline=None)
@given(st.lists(op, min_size=2, max_size=30), st.data())
def test_inputs_replayed_onto_a_lagging_store_give_the_same_records(
        ops: list[Any], data: st.DataObject) -> None:
    """The store was persisted up to input c0, records were published beyond it: the same
    inputs from c0 on give exactly the same records (transitions are pure functions)."""
    full = rig_for_props()
    records = [[r for r in apply(full, i, o)] for i, o in enumerate(ops)]
    c0 = data.draw(st.integers(0, len(ops)))
    first = rig_for_props()
    for i, o in enumerate(ops[:c0]):
        apply(first, i, o)
    restored = rig_for_props()
    restored.store.update(first.store)
    restored.sil_store.update(first.sil_store)
    again = [[r for r in apply(restored, i, o)] for i, o in list(enumerate(ops))[c0:]]
    assert again == records[c0:]


@settings(max_examples=100, deadline=None)
@given(st.lists(op, min_size=2, max_size=30), st.data())
def test_inputs_replayed_onto_a_store_that_has_them_neither_lose_nor_fork(
        ops: list[Any], data: st.DataObject) -> None:
    """The store already holds the effect of inputs the consumer will read again: replaying
    them publishes no version twice with different content and leaves no version gap."""
    cut = data.draw(st.integers(1, len(ops)))
    back = data.draw(st.integers(0, cut))
    first = rig_for_props()
    before = [r for i, o in enumerate(ops[:cut]) for r in apply(first, i, o)]
    restored = rig_for_props()
    restored.store.update(first.store)
    restored.sil_store.update(first.sil_store)
    after = [r for i, o in list(enumerate(ops))[cut - back:] for r in apply(restored, i, o)]
    assert_consistent(before + after)
    replayed = [r for i, o in list(enumerate(ops))[cut - back:cut]
                if o[0] == "window" for r in apply(restored, i, o)]
    assert all(r in before + after for r in replayed)


# --- the partition a lane lives on -----------------------------------------------------------


class PlacedStore(dict[str, bytes]):
    """A store whose writes name their partition, as :class:`~streams.tables.PartitionedStore`
    does; it remembers (key, partition) of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, int | None]] = []

    def put(self, key: str, value: bytes | None, partition: int | None) -> None:
        self.writes.append((key, partition))
        if value is None:
            self.pop(key, None)
        else:
            self[key] = value


CITY_KEY = lane_key(G, S, M, "city")


def observe(book: AlertBook, silences: SilenceBook, i: int, *, firing: bool = True,
            partition: int | None = None) -> list[Alert]:
    v = (fire if firing else calm)(end=T0 + i * W)
    return book.observe(group=G, district=D, source=S, metric=M, verdicts=[v], ts=T0 + i * W,
                        silences=silences, partition=partition)


def test_every_write_of_a_lane_goes_to_the_partition_it_was_observed_on() -> None:
    store, silences = PlacedStore(), SilenceBook({})
    book = AlertBook(store, resolve_after=3, partitions=8,
                     escalation=EscalationPolicy(escalate_after_s=150.0))
    assert changes(observe(book, silences, 1, partition=3)) == ["opened"]
    assert changes(book.tick(T0 + 4 * W, silences)) == ["escalated"]          # a tick
    ack = Command(command_id="c1", action="ack", user="lan", ts=T0 + 5 * W, alert_id=AID)
    assert changes(book.command(ack, now=T0 + 5 * W, silences=silences)) == ["acknowledged"]
    silences.add(Command(command_id="s1", action="silence", user="lan", ts=T0 + 5 * W,
                         matchers={"source": S}, until=T0 + 3600))
    assert changes(book.tick(T0 + 6 * W, silences)) == ["silenced"]           # a silence
    observe(book, silences, 7, firing=False, partition=3)                      # a window
    assert len(store.writes) == 5
    assert set(store.writes) == {(CITY_KEY, 3)}
    assert book.partition_of(AID) == 3


def test_a_replayed_command_or_window_writes_nothing() -> None:
    store, silences = PlacedStore(), SilenceBook({})
    book = AlertBook(store, partitions=4)
    observe(book, silences, 1, partition=2)
    ack = Command(command_id="c1", action="ack", user="lan", ts=T0 + W, alert_id=AID)
    book.command(ack, now=T0 + 2 * W, silences=silences)
    writes = len(store.writes)
    assert book.command(ack, now=T0 + 2 * W, silences=silences)[0].change == "acknowledged"
    assert observe(book, silences, 1, partition=2)[0].change == "acknowledged"
    assert len(store.writes) == writes


def test_a_lane_follows_the_partition_its_readings_now_arrive_on() -> None:
    store, silences = PlacedStore(), SilenceBook({})
    book = AlertBook(store, partitions=4)
    observe(book, silences, 1, partition=3)
    observe(book, silences, 2, partition=1)
    assert store.writes == [(CITY_KEY, 3), (CITY_KEY, 1)] and book.partition_of(AID) == 1


def test_a_lane_observed_without_a_partition_lives_on_its_sources_default_one() -> None:
    from streams.publish import default_partition

    silences = SilenceBook({})
    unknown = PlacedStore()
    book = AlertBook(unknown, partitions=4)
    observe(book, silences, 1)
    plain = PlacedStore()
    observe(AlertBook(plain), silences, 1)  # no partitions known: the store decides
    assert unknown.writes == [(CITY_KEY, default_partition(S, 4))]
    assert book.partition_of(AID) == default_partition(S, 4)
    assert plain.writes == [(CITY_KEY, None)]


def test_a_lane_written_before_partitions_were_kept_falls_back_to_its_source() -> None:
    import msgspec

    from streams.publish import default_partition

    silences = SilenceBook({})
    old_store: dict[str, bytes] = {}
    observe(AlertBook(old_store), silences, 1)
    fields = msgspec.msgpack.decode(old_store[CITY_KEY])
    del fields["partition"]  # what an older worker wrote
    store = PlacedStore()
    store[CITY_KEY] = msgspec.msgpack.encode(fields)
    book = AlertBook(store, partitions=4)
    home = default_partition(S, 4)
    assert book.partition_of(AID) == home
    ack = Command(command_id="c1", action="ack", user="lan", ts=T0 + 2 * W, alert_id=AID)
    assert changes(book.command(ack, now=T0 + 2 * W, silences=silences)) == ["acknowledged"]
    assert store.writes == [(CITY_KEY, home)]
    observe(book, silences, 3, partition=home + 1)  # observed again: where it is read now
    assert store.writes[-1] == (CITY_KEY, home + 1)
    assert book.partition_of("robust_z:flooding:nowhere:flood_depth") is None


def test_from_settings_places_old_lanes_among_the_configured_partitions() -> None:
    book = AlertBook.from_settings({}, Settings(partitions=6))
    assert book.partitions == 6


@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20))
def test_a_lane_key_splits_back_whatever_the_source_holds(source: str) -> None:
    from streams.lanes import source_of, split_lane_key

    key = lane_key("wastewater", source, "inflow", "sensor_health")
    assert split_lane_key(key) == ("wastewater", source, "inflow", "sensor_health")
    assert source_of(key) == source
