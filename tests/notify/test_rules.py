"""The notifier's pure rules, without servers: config validation (file, line, field),
routing, grouping, escalation, quiet hours, messages, back-off and rate limits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kit import T0, alert

from ioc.errors import ConfigError
from notify import escalation as esc
from notify import grouping, messages
from notify.config import Route, Step, parse
from notify.dispatcher import Buckets
from notify.items import Item, item_of, parse_hours
from notify.outbox import backoff
from notify.people import Contact, expand
from notify.routing import routes_for

BASE = '''
[[receivers]]
name = "desk"
email = "desk@example.org"
'''


def item(source: str = "s1", **kw: object) -> Item:
    return item_of(alert(source, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "where"), [
    ('[[routes]]\nname = "r"\nreceivers = ["nobody"]\n', "t.toml:7: routes[0].receivers: "
     "unknown receiver 'nobody'"),
    ('[[routes]]\nname = "r"\nreceivers = ["desk"]\ngroup_wait = "soon"\n',
     "t.toml:8: routes[0].group_wait: expected a duration"),
    ('[[routes]]\nname = "r"\nreceivers = ["desk"]\n\n[[routes]]\nname = "s"\n'
     'receivers = ["desk"]\nmatch = { district = "Atlantis" }\n',
     "t.toml:12: routes[1].match.district: unknown value 'Atlantis'"),
    ('[[routes]]\nname = "r"\nreceivers = ["desk"]\nhours = "25:00-07:00"\n',
     "t.toml:8: routes[0].hours: not a time of day"),
    ('[smtp]\nport = "25"\n', "t.toml:6: smtp.port: expected int, got '25'"),
    ('[[routes]]\nname = "r"\nreceivers = ["desk"]\nescalate = []\n',
     "t.toml:8: routes[0].escalate: unknown key"),
    ('[[routes]\n', "t.toml:5: not valid TOML"),
    ('[limits]\nsms = "lots"\n', "t.toml:6: limits.sms: expected N/s, N/m, N/h or N/d"),
    ('[notify]\ntakeover = "1s"\n', "t.toml:6: notify.takeover: must be between 6 s and "
     "1800 s"),
])
def test_config_errors_name_the_file_line_and_field(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(BASE + text, "t.toml")
    assert str(err.value).startswith(where), str(err.value)


def test_the_example_config_is_valid() -> None:
    from pathlib import Path

    from notify.config import load

    cfg = load(Path(__file__).resolve().parents[2] / "examples" / "notify.toml")
    assert [r.name for r in cfg.routes][:2] == ["everything-to-oncall", "hai-chau-critical"]
    assert cfg.routes[1].escalation[1] == Step(600.0, ("hai-chau-leader",))
    assert cfg.takeover == 10.0


def test_first_match_wins_unless_a_route_continues() -> None:
    a, b, c = (Route(n, ("desk",), {"group": frozenset({"flooding"})}, cont=n == "a")
               for n in "abc")
    assert [r.name for r in routes_for(item(), [a, b, c], T0)] == ["a", "b"]
    assert routes_for(item(group="traffic", metric="speed"), [a, b, c], T0) == []


def test_an_incident_matches_a_route_of_any_of_its_groups() -> None:
    from ioc.events import Incident

    inc = item_of(Incident(incident_id="i1", version=1, status="open", district="Hai Chau",
                           groups=["traffic", "flooding"], alert_ids=["x", "y"],
                           severity="critical", title="Flooded roads", first_seen=T0,
                           last_seen=T0, updated_at=T0))
    route = Route("r", ("desk",), {"group": frozenset({"flooding"}),
                                   "kind": frozenset({"incident"})})
    assert routes_for(inc, [route], T0) == [route]


ROUTE = Route("r", ("desk",), group_wait=30, group_interval=300, repeat_interval=3600)


def test_grouping_waits_then_batches_changes_then_repeats() -> None:
    g = grouping.new_group(ROUTE, item())
    grouping.absorb(g, ROUTE, item("s1"), now=T0)
    assert grouping.flush(g, ROUTE, now=T0 + 29) is None
    grouping.absorb(g, ROUTE, item("s2"), now=T0 + 10)
    first = grouping.flush(g, ROUTE, now=T0 + 30)
    assert first is not None and [i.source for i in first.firing] == ["s1", "s2"]
    grouping.absorb(g, ROUTE, item("s3"), now=T0 + 40)
    assert g.next_flush_at == T0 + 330  # at most every group_interval
    second = grouping.flush(g, ROUTE, now=T0 + 330)
    assert second is not None and second.seq == 2 and len(second.firing) == 3
    assert grouping.flush(g, ROUTE, now=T0 + 331) is None
    assert g.next_flush_at == T0 + 330 + 3600
    repeat = grouping.flush(g, ROUTE, now=T0 + 330 + 3600)
    assert repeat is not None and repeat.seq == 3


def test_an_acknowledged_alert_is_not_retold_but_its_resolution_is() -> None:
    g = grouping.new_group(ROUTE, item())
    grouping.absorb(g, ROUTE, item("s1"), now=T0)
    assert grouping.flush(g, ROUTE, now=T0 + 30) is not None
    grouping.absorb(g, ROUTE, item("s1", version=2, status="acknowledged"), now=T0 + 40)
    assert grouping.flush(g, ROUTE, now=T0 + 330) is None
    grouping.absorb(g, ROUTE, item("s1", version=3, status="resolved"), now=T0 + 400)
    f = grouping.flush(g, ROUTE, now=T0 + 400)
    assert f is not None and f.status == "resolved" and [i.source for i in f.resolved] == ["s1"]
    assert g.alerts == {}


def test_a_silenced_alert_is_not_told_and_older_versions_are_ignored() -> None:
    g = grouping.new_group(ROUTE, item())
    assert grouping.absorb(g, ROUTE, item("s1", version=2, status="silenced"), now=T0) is False
    grouping.absorb(g, ROUTE, item("s1", version=3), now=T0)
    assert grouping.absorb(g, ROUTE, item("s1", version=2), now=T0) is False
    assert grouping.flush(g, ROUTE, now=T0 + 30, held=lambda i: True) is None


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["firing", "acknowledged", "resolved"]),
                          st.floats(0, 5000)), max_size=30))
def test_grouping_keeps_its_intervals_whatever_arrives(
        events: list[tuple[str, str, float]]) -> None:
    """Whatever arrives in whatever order, notifications of a group are at least
    ``group_interval`` apart, and an alert is told resolved only after it was told firing,
    and at most once."""
    g = grouping.new_group(ROUTE, item())
    versions: dict[str, int] = {}
    told_firing: set[str] = set()
    last: float | None = None
    for source, status, dt in sorted(events, key=lambda e: e[2]):
        now = T0 + dt
        versions[source] = versions.get(source, 0) + 1
        grouping.absorb(g, ROUTE, item(source, version=versions[source], status=status),
                        now=now)
        f = grouping.flush(g, ROUTE, now=now)
        if f is None:
            continue
        if last is not None:
            assert now - last >= ROUTE.group_interval
        last = now
        told_firing.update(i.source for i in f.firing)
        for i in f.resolved:
            assert i.source in told_firing
            told_firing.discard(i.source)


def test_escalation_runs_its_steps_and_stops_on_ack() -> None:
    route = Route("r", escalation=(Step(0, ("op",)), Step(600, ("leader",)),
                                   Step(1200, ("duty",))))
    c = esc.start(route, "a", first_seen=T0, now=T0 + 5)
    assert esc.due_steps(c, route, T0 + 5) == [0]
    assert esc.due_steps(c, route, T0 + 604) == []
    assert esc.due_steps(c, route, T0 + 605) == [1]
    assert esc.stop_reason(c, "acknowledged", first_seen=T0 + 1) is None  # another episode
    assert esc.stop_reason(c, "acknowledged", first_seen=T0) == "acknowledged"
    assert esc.due_steps(c, route, T0 + 9999) == []


def test_a_notifier_that_was_away_runs_every_step_that_fell_due() -> None:
    route = Route("r", escalation=(Step(0, ("op",)), Step(60, ("leader",))))
    c = esc.start(route, "a", first_seen=T0, now=T0)
    assert esc.due_steps(c, route, T0 + 120) == [0, 1] and c.stop == "done"


def test_quiet_hours_hold_all_but_critical_unless_the_user_opts_out() -> None:
    from notify.config import Receiver

    night = T0 + 12 * 3600  # 00:00 in Da Nang
    rcv = Receiver("lan", account="lan")
    lan = Contact("lan", email="lan@example.org", quiet=parse_hours("23:00-06:30"))
    for sev, told in (("major", False), ("critical", True)):
        x = expand(rcv, lan, severity=sev, district="Hai Chau", groups=["flooding"], now=night)
        assert bool(x.deliveries) is told
    strict = Contact("lan", email="lan@example.org", quiet=parse_hours("23:00-06:30"),
                     quiet_critical=False)
    assert expand(rcv, strict, severity="critical", district="Hai Chau", groups=["flooding"],
                  now=night).suppressed == ["quiet_hours"]
    assert expand(rcv, lan, severity="major", district="Hai Chau", groups=["flooding"],
                  now=T0).deliveries


def test_one_sms_whatever_the_language() -> None:
    long = item_of(alert("rain-HC-01", metric="rainfall"))
    vi = messages.fit_sms("Cảnh báo ngập lụt nghiêm trọng tại quận Hải Châu " * 6,
                          unicode=False)
    assert len(vi) <= 160 and vi.startswith("Canh bao ngap lut nghiem trong tai quan Hai Chau")
    assert len(messages.fit_sms("Cảnh báo " * 20, unicode=True)) <= 70
    assert len(messages.sms([long] * 30, "firing", "vi", unicode=False)) <= 160


def test_emails_have_text_html_evidence_and_a_wall_link_in_both_languages() -> None:
    a = item_of(alert("rain-HC-01"))
    for lang, word in (("vi", "Giá trị"), ("en", "Value")):
        m = messages.email([a], "firing", lang, "http://wall:8080")
        assert word in m["text"] and word in m["html"]
        assert "42" in m["text"] and "http://wall:8080/?group=flooding" in m["text"]
        assert "<a href=\"http://wall:8080/?group=flooding" in m["html"]


def test_alertmanager_payload_version_4() -> None:
    items = [item_of(alert("s1")), item_of(alert("s2", version=2, status="resolved"))]
    p = messages.alertmanager_payload(items, status="firing", receiver="bridge",
                                      group_key="k", group_labels={"group": "flooding"},
                                      wall_url="http://wall")
    assert set(p) == {"version", "groupKey", "truncatedAlerts", "status", "receiver",
                      "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
                      "alerts"}
    assert p["version"] == "4" and p["commonLabels"]["group"] == "flooding"
    assert "source" not in p["commonLabels"]
    assert [a["status"] for a in p["alerts"]] == ["firing", "resolved"]
    assert p["alerts"][1]["endsAt"].startswith("2026-11-23T05:00")
    json.dumps(p)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    waits = [backoff(n, base=1.0, cap=30.0, jitter=1.0) for n in range(1, 8)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff(3, base=1.0, cap=30.0, jitter=0.0) == 2.0


def test_rate_limits_per_receiver_and_channel() -> None:
    b = Buckets({"sms": (3, 3600.0)})
    assert [b.take("lan", "sms", T0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take("lan", "sms", T0) == pytest.approx(1200.0)
    assert b.take("minh", "sms", T0) == 0.0 and b.take("lan", "email", T0) == 0.0
    assert b.take("lan", "sms", T0 + 1200) == 0.0


def test_titles_are_written_in_each_receivers_language() -> None:
    """An alert's title parts are written in the receiver's language (its own, else the
    config's, Vietnamese by default) in the email, the SMS and the webhook; without parts
    the English ``title`` is kept."""
    import msgspec

    from notify.plans import plan_deliveries
    parts = {"key": "title.stuck", "params": {"metric": "flood_depth", "value": 2.5,
                                              "unit": "cm", "source": "flood-HC-01",
                                              "district": "Hai Chau"}}
    told = msgspec.structs.replace(item("flood-HC-01"), title_parts=parts)
    vi = "Độ sâu ngập đứng yên ở 2,5 cm tại trạm đo ngập 01, Hải Châu"
    en = messages.title(told, "en")
    assert en != vi and "2.5" in en
    cfg = parse(BASE + '''
phone = "+84905000001"

[[receivers]]
name = "ops"
email = "ops@example.org"
webhook = "http://127.0.0.1:9/hook"
language = "en"
''', "t.toml")
    plan = plan_deliveries(cfg, {}, kind="group", route="r", receivers=["desk", "ops"],
                           items=[told], key_parts=("g", 1), now=T0)
    by = {(r["receiver"], r["channel"]): r["message"] for r in plan.rows}
    assert vi in by[("desk", "email")]["subject"] and vi in by[("desk", "email")]["text"]
    assert messages.unaccented(vi)[:20] in by[("desk", "sms")]["text"]
    assert en in by[("ops", "email")]["subject"] and en in by[("ops", "email")]["html"]
    assert by[("ops", "webhook")]["payload"]["alerts"][0]["annotations"]["summary"] == en
    plain = plan_deliveries(cfg, {}, kind="group", route="r", receivers=["desk"],
                            items=[item("flood-HC-01")], key_parts=("g", 2), now=T0)
    assert plain.rows[0]["message"]["subject"].count(item("flood-HC-01").title) == 1
