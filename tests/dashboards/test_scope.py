"""Scope on the server without sockets (issue 12, item 4): the pure rules of
:mod:`dashboards.scope`, the hub's fan-out per scope (one encoding per scope), the board's
snapshots and summaries. The relay's refusals on a running dashboard: test_scope_server."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from dashkit import SETTINGS, T0, make_alert, make_indicator
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from archive.accounts import Scope
from dashboards import scope as scoping
from dashboards.board import Board
from dashboards.history import History
from dashboards.hub import Client, Hub
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import CommandRequest, Resume, Subscription
from dashboards.scope import OutOfScope
from ioc import catalog
from ioc.events import Incident

LIEN_CHIEU = Scope(("Lien Chieu",))
FLOODING = Scope((), ("flooding",))


def incident(district: str = "Lien Chieu", version: int = 1) -> Incident:
    return Incident(incident_id=f"inc:{district}:1", version=version, status="open",
                    district=district, groups=["flooding", "traffic"],
                    alert_ids=["robust_z:flooding:rain-0001:rainfall",
                               "robust_z:traffic:rain-0002:rainfall"],
                    severity="critical", title=f"{district}: flooding + traffic",
                    first_seen=T0, last_seen=T0, updated_at=T0)


# --- the rules ------------------------------------------------------------------------------
def test_alerts_and_indicators_are_seen_inside_the_scope_only() -> None:
    assert scoping.sees(LIEN_CHIEU, "alert", ("flooding",), "Lien Chieu")
    assert not scoping.sees(LIEN_CHIEU, "indicator", ("flooding",), "Hai Chau")
    assert not scoping.sees(FLOODING, "alert", ("traffic",), "Lien Chieu")
    assert scoping.sees(Scope(), "alert", ("traffic",), "Hai Chau")
    both = Scope(("Lien Chieu",), ("flooding",))
    assert scoping.sees(both, "alert", ("flooding",), "Lien Chieu")
    assert not scoping.sees(both, "alert", ("traffic",), "Lien Chieu")


def test_a_silence_is_seen_when_it_can_hold_alerts_of_the_scope() -> None:
    assert scoping.sees(LIEN_CHIEU, "silence", ("traffic",), "")          # every district
    assert scoping.sees(LIEN_CHIEU, "silence", (), "Lien Chieu")
    assert not scoping.sees(LIEN_CHIEU, "silence", (), "Hai Chau")
    assert not scoping.sees(FLOODING, "silence", ("traffic",), "")


def test_a_city_wide_incident_shows_only_its_members_in_scope() -> None:
    inc = incident()
    assert scoping.narrow_incident(inc, LIEN_CHIEU) is inc          # all of it is theirs
    assert scoping.narrow_incident(inc, Scope(("Hai Chau",))) is None
    mine = scoping.narrow_incident(inc, FLOODING, lambda a: "warning")
    assert mine is not None
    assert mine.groups == ["flooding"] and mine.alert_ids == [inc.alert_ids[0]]
    assert mine.severity == "warning" and mine.title == "Lien Chieu: flooding"
    assert scoping.narrow_incident(inc, Scope((), ("energy",))) is None
    unknown = scoping.narrow_incident(inc, FLOODING)                # no member severity known
    assert unknown is not None and unknown.severity == "critical"


@given(st.lists(st.sampled_from(sorted(catalog.DISTRICT_NAMES)), max_size=3),
       st.lists(st.sampled_from(catalog.GROUP_SLUGS), max_size=3))
def test_narrowing_never_shows_a_group_outside_the_scope(districts: list[str],
                                                         groups: list[str]) -> None:
    scope = Scope(tuple(districts), tuple(groups))
    seen = scoping.narrow_incident(incident("Hai Chau"), scope)
    if seen is not None:
        assert all(scope.allows(district=seen.district, group=g) for g in seen.groups)
        assert all(scoping.group_of(a) in seen.groups for a in seen.alert_ids)
    else:
        assert (districts and "Hai Chau" not in districts) or (
            groups and not {"flooding", "traffic"} & set(groups))


def ack(alert_id: str, action: str = "ack") -> CommandRequest:
    return CommandRequest(action=action, alert_id=alert_id, ref="r1", text="t")


def test_commands_outside_the_scope_are_refused_and_never_say_whether_the_alert_exists(
        ) -> None:
    places = {"robust_z:flooding:rain-0001:rainfall": "Lien Chieu",
              "robust_z:flooding:rain-0002:rainfall": "Hai Chau"}
    check = {"district_of": places.get, "silence_of": {}.get}
    scoping.check_command(LIEN_CHIEU, ack("robust_z:flooding:rain-0001:rainfall"), **check)
    for alert_id in ("robust_z:flooding:rain-0002:rainfall",      # Hai Chau
                     "robust_z:flooding:rain-9999:rainfall"):     # unknown: same refusal
        for action in ("ack", "resolve", "note"):
            with pytest.raises(OutOfScope) as refused:
                scoping.check_command(LIEN_CHIEU, ack(alert_id, action), **check)
            assert refused.value.code == "forbidden" and refused.value.field == "alert_id"
            assert refused.value.reason == "outside your scope (districts Lien Chieu)"
            assert refused.value.ref == "r1"
    with pytest.raises(OutOfScope):
        scoping.check_command(Scope((), ("traffic",)),
                              ack("robust_z:flooding:rain-0001:rainfall"), **check)
    scoping.check_command(Scope(), ack("robust_z:flooding:rain-0002:rainfall"), **check)


def silence(matchers: dict[str, str]) -> CommandRequest:
    return CommandRequest(action="silence", matchers=matchers, duration_s=600.0)


def test_a_silence_must_stay_inside_the_scope() -> None:
    check = {"district_of": {"robust_z:flooding:rain-0001:rainfall": "Lien Chieu"}.get,
             "silence_of": {}.get}
    scoping.check_command(LIEN_CHIEU, silence({"district": "Lien Chieu"}), **check)
    scoping.check_command(LIEN_CHIEU, silence({"district": "Lien Chieu", "group": "traffic"}),
                          **check)
    scoping.check_command(LIEN_CHIEU, silence(
        {"alert_id": "robust_z:flooding:rain-0001:rainfall"}), **check)
    for outside in ({"district": "Hai Chau"}, {"group": "traffic"}, {"category": "city"},
                    {"alert_id": "robust_z:flooding:rain-0002:rainfall"}):
        with pytest.raises(OutOfScope) as refused:
            scoping.check_command(LIEN_CHIEU, silence(outside), **check)
        assert refused.value.field == "matchers"
    scoping.check_command(FLOODING, silence({"group": "flooding"}), **check)
    with pytest.raises(OutOfScope):
        scoping.check_command(FLOODING, silence({"district": "Lien Chieu"}), **check)


def test_lifting_a_silence_outside_the_scope_is_refused() -> None:
    held = {"s-mine": {"district": "Lien Chieu"}, "s-theirs": {"district": "Hai Chau"}}
    check = {"district_of": {}.get, "silence_of": held.get}

    def lift(silence_id: str) -> CommandRequest:
        return CommandRequest(action="unsilence", silence_id=silence_id)

    scoping.check_command(LIEN_CHIEU, lift("s-mine"), **check)
    for other in ("s-theirs", "s-unknown"):
        with pytest.raises(OutOfScope) as refused:
            scoping.check_command(LIEN_CHIEU, lift(other), **check)
        assert refused.value.field == "silence_id"


def test_query_parameters_outside_the_scope_are_named() -> None:
    assert scoping.check_place(LIEN_CHIEU, district="Lien Chieu", group="traffic") is None
    assert scoping.check_place(LIEN_CHIEU, district="Hai Chau") == "district"
    assert scoping.check_place(FLOODING, group="traffic") == "group"
    assert scoping.check_place(Scope(), district="Hai Chau", group="traffic") is None


# --- the hub --------------------------------------------------------------------------------
def make_hub() -> Hub:
    hub = Hub(lambda client, reason: b'{"type":"snapshot"}', epoch="e0")
    hub.mark_ready(now=0.0, epoch="e1")
    return hub


def join(hub: Hub, scope: Scope, role: str = "operator",
         resume: Resume | None = None) -> Client:
    client = hub.connect(role=role, user=role, sub=Subscription(), now=0.0, scope=scope,
                         resume=resume)
    hub.drain(client)
    return client


def deltas(hub: Hub, client: Client) -> list[dict[str, Any]]:
    return [json.loads(f) for f in hub.drain(client) if isinstance(f, bytes)]


def test_the_welcome_says_the_scope() -> None:
    hub = make_hub()
    c = hub.connect(role="operator", user="operator:an", sub=Subscription(), now=0.0,
                    scope=Scope(("Lien Chieu",), ("flooding",)))
    welcome = json.loads(hub.drain(c)[0])
    assert welcome["scope"] == {"districts": ["Lien Chieu"], "groups": ["flooding"]}


def test_deltas_go_to_the_scopes_that_hold_them_encoded_once() -> None:
    hub = make_hub()
    city, lc1, lc2, hc = (join(hub, Scope()), join(hub, LIEN_CHIEU), join(hub, LIEN_CHIEU),
                          join(hub, Scope(("Hai Chau",))))
    assert hub.publish(make_alert(1, district="Lien Chieu"), now=1.0) == 3
    assert hub.publish(make_indicator(district="Hai Chau"), now=1.0) == 2
    assert deltas(hub, hc)[0]["kind"] == "indicator"
    assert [d["data"]["district"] for d in deltas(hub, city)] == ["Lien Chieu", "Hai Chau"]
    one, two = hub.drain(lc1), hub.drain(lc2)
    assert len(one) == len(two) == 1 and one[0] is two[0]   # the very same bytes


def test_an_incident_is_narrowed_once_per_scope() -> None:
    hub = make_hub()
    city, f1, f2, traffic_hc = (join(hub, Scope()), join(hub, FLOODING), join(hub, FLOODING),
                                join(hub, Scope(("Hai Chau",), ("traffic",))))
    assert hub.publish(incident(), now=1.0) == 3
    assert deltas(hub, traffic_hc) == []
    whole = deltas(hub, city)[0]["data"]
    assert whole["groups"] == ["flooding", "traffic"]
    one, two = hub.drain(f1), hub.drain(f2)
    assert one[0] is two[0]
    mine = json.loads(one[0])["data"]  # type: ignore[arg-type]
    assert mine["groups"] == ["flooding"] and len(mine["alert_ids"]) == 1


def test_a_resume_replays_only_what_the_scope_holds_narrowed() -> None:
    hub = make_hub()
    hub.publish(make_alert(1, district="Hai Chau"), now=1.0)
    hub.publish(incident(), now=1.0)
    hub.publish(make_alert(2, group="flooding", district="Lien Chieu"), now=1.0)
    c = hub.connect(role="operator", user="operator", sub=Subscription(), now=2.0,
                    scope=FLOODING, resume=Resume(epoch="e1", seq=0))
    got = [json.loads(f) for f in hub.drain(c) if isinstance(f, bytes)]
    assert got[0]["type"] == "welcome" and got[0]["resumed"] is True
    assert [(d["seq"], d["kind"]) for d in got[1:]] == [(1, "alert"), (2, "incident"),
                                                        (3, "alert")]
    assert got[2]["data"]["groups"] == ["flooding"]
    lc = hub.connect(role="operator", user="operator", sub=Subscription(), now=2.0,
                     scope=LIEN_CHIEU, resume=Resume(epoch="e1", seq=0))
    assert [d["seq"] for d in deltas(hub, lc)[1:]] == [2, 3]


def test_silences_reach_the_scopes_they_can_hold() -> None:
    from dashboards.state import SilenceView

    hub = make_hub()
    lc, hc = join(hub, LIEN_CHIEU), join(hub, Scope(("Hai Chau",)))
    view = SilenceView(silence_id="s1", matchers={"district": "Hai Chau"}, until=T0 + 60,
                       user="operator", reason="", created=T0)
    assert hub.publish(view, now=1.0) == 1
    assert deltas(hub, lc) == [] and deltas(hub, hc)[0]["kind"] == "silence"
    on_theirs = SilenceView(silence_id="s2", matchers={"alert_id": "z:flooding:r-1:rain"},
                            until=T0 + 60, user="operator", reason="", created=T0,
                            alert_district="Hai Chau")
    assert hub.publish(on_theirs, now=1.0) == 1
    assert deltas(hub, lc) == [] and deltas(hub, hc)[0]["data"]["alert_district"] == "Hai Chau"


def test_a_silence_view_knows_the_district_of_its_alert() -> None:
    from dashboards.state import State
    from ioc.events import Command

    state = State()
    alert = make_alert(1, district="Lien Chieu")
    state.apply(alert)
    cmd = Command(command_id="c1", action="silence", user="operator", ts=T0,
                  matchers={"alert_id": alert.alert_id}, until=T0 + 60)
    assert state.apply(cmd)[0]
    view = state.silence_of(cmd)
    assert view is not None and view.alert_district == "Lien Chieu"


def test_summaries_and_role_frames_go_to_their_own_scope() -> None:
    hub = make_hub()
    city = hub.connect(role="leadership", user="l", sub=Subscription(), now=0.0)
    lc = hub.connect(role="leadership", user="l", sub=Subscription(), now=0.0,
                     scope=LIEN_CHIEU)
    for c in (city, lc):
        hub.drain(c)
    assert hub.scopes(lambda c: c.summary) == {Scope(), LIEN_CHIEU}
    assert hub.publish_summary(b'{"type":"summary","s":"lc"}', LIEN_CHIEU) == 1
    assert hub.drain(lc) == [b'{"type":"summary","s":"lc"}'] and hub.drain(city) == []


# --- the board ------------------------------------------------------------------------------
def make_board() -> Board:
    return Board(SETTINGS, DashboardMetrics(CollectorRegistry()), History(SETTINGS))


def snapshot(board: Board, scope: Scope, role: str = "operator") -> dict[str, Any]:
    return msgspec.json.decode(board.viewer_snapshot(role, scope))  # type: ignore[no-any-return]


def test_snapshots_hold_the_scope_only_and_narrow_incidents() -> None:
    board = make_board()
    for record in (make_alert(1, district="Lien Chieu"), make_alert(2, district="Hai Chau"),
                   make_alert(3, group="traffic", district="Lien Chieu", severity="warning"),
                   make_indicator(district="Lien Chieu"), make_indicator(district="Hai Chau"),
                   incident()):
        board.state.apply(record)
    lc = snapshot(board, LIEN_CHIEU)
    assert {a["district"] for a in lc["alerts"]} == {"Lien Chieu"} and len(lc["alerts"]) == 2
    assert [i["district"] for i in lc["indicators"]] == ["Lien Chieu"]
    assert lc["incidents"][0]["groups"] == ["flooding", "traffic"]
    flooding = snapshot(board, FLOODING)
    assert {a["group"] for a in flooding["alerts"]} == {"flooding"}
    assert flooding["incidents"][0]["groups"] == ["flooding"]
    assert len(snapshot(board, Scope())["alerts"]) == 3


def test_a_scoped_summary_counts_the_scope_only() -> None:
    board = make_board()
    st_ = board.state
    for record in (make_alert(1, district="Lien Chieu"), make_alert(2, district="Hai Chau"),
                   make_alert(3, district="Hai Chau", severity="critical"),
                   make_indicator(district="Lien Chieu", kpis={"max_depth": 4.0}),
                   make_indicator(district="Hai Chau", kpis={"max_depth": 40.0})):
        st_.apply(record)
    mine = json.loads(board.summary(LIEN_CHIEU))
    assert mine["open_alerts"]["total"] == 1 and mine["last_24h"]["opened"] == 1
    assert mine["open_alerts"]["by_severity"]["critical"] == 0
    assert [d["district"] for d in mine["districts"]] == ["Lien Chieu"]
    flooding = next(g for g in mine["groups"] if g["group"] == "flooding")
    assert flooding["kpis"] == {"max_depth": 4.0}
    assert [p["kpis"] for p in flooding["trend"]] == [{"max_depth": 4.0}]
    assert mine["scope"] == {"districts": ["Lien Chieu"], "groups": []}
    city = json.loads(board.summary())
    assert city["open_alerts"]["total"] == 3 and "scope" not in city
    assert len(city["districts"]) == len(catalog.DISTRICTS)
    assert st_.history("flooding", None, ("Lien Chieu",))["points"][0]["kpis"] == {
        "max_depth": 4.0}
