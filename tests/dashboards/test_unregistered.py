"""Unregistered sources (issue 9 defect 11, the engineers' view) and the hub's flushing close
(defect 9), pure: no sockets, no Kafka."""

from __future__ import annotations

import random
import string

from dashkit import T0

from dashboards.hub import Close, Hub
from dashboards.protocol import ProtocolError, Subscription, parse_client
from dashboards.unregistered import KNOWN, Unregistered
from ioc.events import WindowSummary


def window(source: str, group: str = "flooding", end: float = T0) -> WindowSummary:
    return WindowSummary(group=group, source=source, metric="rainfall", district="Hai Chau",
                         start=end - 60, end=end, count=1, mean=1.0, min=1.0, max=1.0,
                         last=1.0, std=0.0)


def test_catalog_sources_are_never_unregistered() -> None:
    u = Unregistered()
    for group, source in sorted(KNOWN):
        assert u.observe(window(source, group)) is False
    assert u.view() == {"total": 0, "groups": []} and u.version == 0


def test_counted_per_group_most_recent_first_and_a_repeat_changes_nothing() -> None:
    u = Unregistered()
    assert u.observe(window("x-1")) and u.observe(window("x-2"))
    assert u.observe(window("t-1", group="traffic"))
    version = u.version
    assert u.observe(window("x-1", end=T0 + 60)) is False and u.version == version
    view = u.view()
    assert view["total"] == 3
    assert [(g["group"], g["count"], g["sources"]) for g in view["groups"]] == [
        ("flooding", 2, ["x-1", "x-2"]), ("traffic", 1, ["t-1"])]  # catalog order


def test_a_flood_of_random_ids_stays_bounded() -> None:
    """100,000 distinct random ids: at most max_ids tracked per group, `more` says there
    were more, a view lists at most `shown` ids."""
    rng = random.Random(9)
    u = Unregistered(max_ids=500, shown=10)
    for _ in range(100_000):
        u.observe(window("".join(rng.choices(string.ascii_letters, k=12))))
    (group,) = u.view()["groups"]
    assert group["count"] == 500 and group["more"] is True and len(group["sources"]) == 10
    assert len(u.groups["flooding"].ids) == 500
    assert u.version <= 502  # the view changed 500 times, the `more` flag once


def test_ids_not_seen_for_a_day_of_event_time_are_forgotten() -> None:
    u = Unregistered(span_s=3600.0)
    u.observe(window("old"))
    u.observe(window("new", end=T0 + 1800))
    assert u.view()["total"] == 2
    assert u.observe(window("newer", end=T0 + 3700))
    assert u.view()["groups"][0]["sources"] == ["newer", "new"]


def test_the_hub_closes_after_the_replies_already_queued() -> None:
    """A close queued with Hub.close comes after every reply queued before it; nothing
    queued after it (the connection is closing) is sent."""
    hub = Hub(lambda client, reason: b'{"type":"snapshot"}', epoch="e")
    hub.mark_ready(now=0.0, epoch="e")
    c = hub.connect(role="operator", user="operator", sub=Subscription(), now=0.0)
    hub.drain(c)
    hub.send(c, b"pong-1")
    hub.send(c, b"error")
    hub.close(c, Close(1008, "rate limit"))
    hub.heartbeat(1.0)
    assert hub.drain(c) == [b"pong-1", b"error", Close(1008, "rate limit")]


def test_deep_client_frames_are_refused_before_decoding() -> None:
    for raw in (b"[" * 1000 + b"]" * 1000, b'{"type":"ping","ref":' + b"[" * 5000 + b"]" * 5000
                + b"}", b'{"type":"ping","x":' + b"{\"a\":" * 1000 + b"1" + b"}" * 1001):
        try:
            parse_client(raw)
        except ProtocolError as exc:
            assert exc.code == "bad_json" and exc.reason.startswith("too deep"), raw[:20]
        else:
            raise AssertionError("accepted")
    assert parse_client(b'{"type":"ping","ref":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}').ref
