"""The sans-I/O hub without sockets: fan-out, filters, sequence numbers, resume buffer, the
drop policy for lagging clients, rate limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dashkit import make_alert, make_incident, make_indicator, make_window
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.hub import Client, Close, Hub
from dashboards.protocol import Resume, Subscription


def snapshot_of(client: Client, reason: str) -> bytes:
    return json.dumps({"type": "snapshot", "reason": reason, "client": client.id}).encode()


def make_hub(**options: Any) -> Hub:
    hub = Hub(snapshot_of, epoch="e0", **options)
    hub.mark_ready(now=0.0, epoch="e1")
    return hub


def frames(hub: Hub, client: Client) -> list[dict[str, Any]]:
    out = []
    for item in hub.drain(client):
        assert isinstance(item, bytes), item
        out.append(json.loads(item))
    return out


def connect(hub: Hub, role: str = "operator", sub: Subscription | None = None,
            resume: Resume | None = None) -> Client:
    client = hub.connect(role=role, user=role, sub=sub or Subscription(), now=0.0,
                         resume=resume)
    return client


def test_connect_queues_welcome_then_snapshot() -> None:
    """A new client gets welcome (role, epoch, seq, limits) then a snapshot."""
    hub = make_hub()
    c = connect(hub)
    got = frames(hub, c)
    assert [f["type"] for f in got] == ["welcome", "snapshot"]
    assert got[0]["epoch"] == "e1" and got[0]["can_command"] is True
    assert got[0]["subscription"]["summary"] is False
    assert connect(hub, "leadership").summary is True


def test_one_encoding_shared_by_every_client() -> None:
    """A delta is encoded once: every client's queue holds the very same bytes object."""
    hub = make_hub()
    clients = [connect(hub) for _ in range(5)]
    for c in clients:
        hub.drain(c)
    assert hub.publish(make_alert(1), now=1.0) == 5
    items = [hub.pop(c) for c in clients]
    assert all(item is items[0] for item in items)


def test_sequence_numbers_grow_by_one_per_delta() -> None:
    """seq grows by one per published delta; a filtered client sees gaps, in order."""
    hub = make_hub()
    everything = connect(hub)
    traffic = connect(hub, sub=Subscription(groups=["traffic"]))
    hub.drain(everything)
    hub.drain(traffic)
    hub.publish(make_alert(1), now=1.0)
    hub.publish(make_alert(2, group="traffic"), now=1.0)
    hub.publish(make_alert(3), now=1.0)
    hub.publish(make_alert(4, group="traffic"), now=1.0)
    assert [f["seq"] for f in frames(hub, everything)] == [1, 2, 3, 4]
    assert [f["seq"] for f in frames(hub, traffic)] == [2, 4]


def test_filters_by_group_district_severity_and_role() -> None:
    """Group, district and severity filters; leadership never gets sensor_health alerts;
    windows only on request; severity does not filter indicators."""
    hub = make_hub()
    picky = connect(hub, sub=Subscription(groups=["flooding"], districts=["Hai Chau"],
                                          severities=["critical"]))
    lead = connect(hub, "leadership")
    eng = connect(hub, "engineer", sub=Subscription(windows=True))
    for c in (picky, lead, eng):
        hub.drain(c)
    hub.publish(make_alert(1, severity="critical"), now=1)                     # all
    hub.publish(make_alert(2, severity="major"), now=1)                        # lead, eng
    hub.publish(make_alert(3, severity="critical", district="Son Tra"), now=1)  # lead, eng
    hub.publish(make_alert(4, severity="critical", detector="stuck",
                           category="sensor_health"), now=1)                   # picky, eng
    hub.publish(make_indicator(), now=1)                                       # all
    hub.publish(make_window(), now=1)                                          # eng
    hub.publish(make_incident(1, severity="critical"), now=1)                  # all

    def seqs(c: Client) -> list[int]:
        return [f["seq"] for f in frames(hub, c)]

    assert seqs(picky) == [1, 4, 5, 7]
    assert seqs(lead) == [1, 2, 3, 5, 7]
    assert seqs(eng) == [1, 2, 3, 4, 5, 6, 7]


def test_severity_change_out_of_the_filter_is_sent_once_more() -> None:
    """An alert downgraded out of a severity filter gets one more delta (so the client drops
    it), and nothing after that."""
    hub = make_hub()
    c = connect(hub, sub=Subscription(severities=["critical"]))
    hub.drain(c)
    a1 = make_alert(1, severity="critical")
    a2 = make_alert(1, version=2, severity="warning")
    a3 = make_alert(1, version=3, severity="info")
    hub.publish(a1, now=1)
    hub.publish(a2, now=1, prev=a1)
    hub.publish(a3, now=1, prev=a2)
    assert [f["data"]["version"] for f in frames(hub, c)] == [1, 2]


def test_indicators_are_conflated_per_group_and_district() -> None:
    """Unsent indicator deltas for the same (group, district) are replaced in place; other
    keys keep their place; conflations are counted."""
    hub = make_hub()
    c = connect(hub)
    hub.drain(c)
    hub.publish(make_indicator(end=60.0), now=1)
    hub.publish(make_alert(1), now=1)
    hub.publish(make_indicator(district="Son Tra", end=60.0), now=1)
    hub.publish(make_indicator(end=120.0), now=1)
    got = frames(hub, c)
    assert [(f["kind"], f["seq"]) for f in got] == [("indicator", 4), ("alert", 2),
                                                     ("indicator", 3)]
    assert got[0]["data"]["end"] == 120.0
    assert hub.stats.dropped == {"conflated": 1}


def test_full_queue_drops_indicators_and_resyncs_on_alerts() -> None:
    """A full queue drops new indicator deltas (queue_full) but never an alert delta: the
    queue is replaced by resync + a snapshot built at send time; deltas published meanwhile
    are covered by that snapshot."""
    hub = make_hub(queue_frames=3)
    slow = connect(hub)
    fast = connect(hub)
    hub.drain(slow)
    hub.drain(fast)
    fast_seen: list[int] = []

    def publish(record: Any, now: float) -> None:
        hub.publish(record, now=now)
        fast_seen.extend(f["seq"] for f in frames(hub, fast))

    for n in range(3):
        publish(make_alert(n), 1)
    publish(make_indicator(), 1)
    assert hub.stats.dropped == {"queue_full": 1}
    hub.send(slow, b'{"type":"pong"}')   # control frames survive a reset
    publish(make_alert(10), 1)           # does not fit: resync
    assert hub.stats.dropped == {"queue_full": 1, "resync": 3}
    assert slow.resync_pending
    publish(make_alert(11), 2)           # discarded: the pending snapshot will include it
    assert hub.stats.dropped["resync_pending"] == 1
    got = frames(hub, slow)
    assert [f["type"] for f in got] == ["pong", "resync", "snapshot"]
    assert got[1]["reason"] == "lagging" and got[2]["reason"] == "lagging"
    assert slow.last_seq == hub.seq
    publish(make_alert(12), 3)           # after the snapshot: deltas flow again
    assert [f["seq"] for f in frames(hub, slow)] == [hub.seq]
    assert fast_seen == [1, 2, 3, 4, 5, 6, 7]  # the fast client lost nothing
    assert hub.stats.resyncs["lagging"] == 1


def test_a_client_that_keeps_lagging_is_closed() -> None:
    """Two lagging resyncs are tolerated with lag_resyncs=2; the third overflow within the
    span closes with 1013 and nothing more is queued."""
    hub2 = make_hub(queue_frames=2, lag_resyncs=2, lag_span_s=100.0)
    c2 = connect(hub2)
    hub2.drain(c2)
    outcome: list[Any] = []
    for t in range(3):
        for n in range(3):
            hub2.publish(make_alert(n), now=float(t))
        outcome.append(hub2.drain(c2))
    assert not any(isinstance(i, Close) for items in outcome[:2] for i in items)
    last = outcome[-1]
    assert isinstance(last[-1], Close) and last[-1].code == 1013
    assert "too slow" in last[-1].reason
    assert c2.closing
    hub2.publish(make_alert(99), now=5.0)
    assert hub2.drain(c2) == []


def test_lagging_resyncs_outside_the_span_are_forgiven() -> None:
    """Lagging resyncs older than the span do not count toward closing."""
    hub = make_hub(queue_frames=2, lag_resyncs=1, lag_span_s=10.0)
    c = connect(hub)
    hub.drain(c)
    for t in (0.0, 20.0, 40.0):
        for n in range(3):
            hub.publish(make_alert(n), now=t)
        assert not any(isinstance(i, Close) for i in hub.drain(c))


def test_resume_replays_missed_deltas_matching_the_filter() -> None:
    """A resume within the buffer replays the missed, matching deltas with original seqs
    (no snapshot); a seq older than the buffer, a future seq or another epoch resyncs."""
    hub = make_hub(resume_buffer=4)
    for n in range(1, 7):
        hub.publish(make_alert(n, group="traffic" if n % 2 else "flooding"), now=1)
    c = connect(hub, sub=Subscription(groups=["flooding"]), resume=Resume(epoch="e1", seq=3))
    got = frames(hub, c)
    assert got[0]["type"] == "welcome" and got[0]["resumed"] is True
    assert [f["seq"] for f in got[1:]] == [4, 6]

    c = connect(hub, resume=Resume(epoch="e1", seq=1))    # 2 fell out of the buffer
    got = frames(hub, c)
    assert got[0]["resumed"] is False
    assert [(f["type"], f.get("reason")) for f in got[1:]] == [("resync", "too_old"),
                                                                ("snapshot", "too_old")]
    c = connect(hub, resume=Resume(epoch="e1", seq=2))    # exactly the oldest kept: fine
    assert frames(hub, c)[0]["resumed"] is True
    c = connect(hub, resume=Resume(epoch="e1", seq=6))    # up to date: nothing to replay
    assert [f["type"] for f in frames(hub, c)] == ["welcome"]
    c = connect(hub, resume=Resume(epoch="e1", seq=99))   # from the future
    assert frames(hub, c)[1]["type"] == "resync"
    c = connect(hub, resume=Resume(epoch="old", seq=6))
    assert frames(hub, c)[1]["reason"] == "epoch_changed"


def test_state_loaded_starts_a_new_epoch_and_resyncs_everyone() -> None:
    """While loading, clients get a not-ready snapshot; when loaded, every client gets a
    resync + snapshot and old resume points stop working."""
    hub = Hub(snapshot_of, epoch="boot")
    c = connect(hub)
    assert [f["type"] for f in frames(hub, c)] == ["welcome", "snapshot"]
    hub.mark_ready(now=1.0, epoch="live")
    got = frames(hub, c)
    assert [(f["type"], f["reason"]) for f in got] == [("resync", "state_loaded"),
                                                       ("snapshot", "state_loaded")]
    again = connect(hub, resume=Resume(epoch="boot", seq=0))
    assert frames(hub, again)[1]["reason"] == "epoch_changed"


def test_resubscribe_replaces_queue_with_a_filtered_snapshot() -> None:
    hub = make_hub()
    c = connect(hub)
    hub.drain(c)
    hub.publish(make_alert(1), now=1)
    hub.resubscribe(c, Subscription(groups=["traffic"]))
    got = frames(hub, c)
    assert [(f["type"], f["reason"]) for f in got] == [("resync", "subscribed"),
                                                       ("snapshot", "subscribed")]
    hub.publish(make_alert(2), now=1)
    assert frames(hub, c) == []


def test_heartbeats_and_summaries_are_conflated() -> None:
    hub = make_hub()
    lead = connect(hub, "leadership")
    op = connect(hub)
    hub.drain(lead)
    hub.drain(op)
    hub.heartbeat(10.0)
    hub.heartbeat(11.0)
    hub.publish_summary(b'{"type":"summary","n":1}')
    hub.publish_summary(b'{"type":"summary","n":2}')
    got = frames(hub, lead)
    assert [(f["type"], f.get("ts") or f.get("n")) for f in got] == [("heartbeat", 11.0),
                                                                     ("summary", 2)]
    assert [f["type"] for f in frames(hub, op)] == ["heartbeat"]


def test_rate_limit_then_close() -> None:
    hub = make_hub(rate_per_s=1.0, burst=2.0, abuse_limit=3)
    c = connect(hub)
    results = [hub.allow(c, 0.0) for _ in range(5)]
    assert results[:4] == [True, True, False, False]
    assert isinstance(results[4], Close) and results[4].code == 1008
    assert hub.allow(c, 10.0) is True


def test_disconnect_forgets_the_client() -> None:
    hub = make_hub()
    c = connect(hub)
    hub.disconnect(c)
    assert hub.publish(make_alert(1), now=1) == 0
    assert hub.counts_by_role() == {"operator": 0, "supervisor": 0, "leadership": 0,
                                    "engineer": 0, "admin": 0}


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["alert", "indicator", "pop", "pop_all"]),
                              st.integers(0, 5)), max_size=120),
       limit=st.integers(2, 6))
def test_queue_bound_and_alert_delivery_invariants(ops: list[tuple[str, int]],
                                                    limit: int) -> None:
    """Whatever the interleaving: the droppable part of a queue never exceeds its bound, and
    every alert delta is either delivered in seq order or covered by a later snapshot."""
    hub = make_hub(queue_frames=limit, lag_resyncs=10_000)
    c = connect(hub)
    hub.drain(c)
    published: list[int] = []
    delivered: list[int] = []
    covered = 0  # every alert seq <= covered is in a snapshot the client got
    for op, n in ops:
        if op == "alert":
            hub.publish(make_alert(n), now=0.0)
            published.append(hub.seq)
        elif op == "indicator":
            hub.publish(make_indicator(district="Son Tra" if n % 2 else "Hai Chau"), now=0.0)
        else:
            for _ in range(1 if op == "pop" else 10_000):
                item = hub.pop(c)
                if item is None:
                    break
                assert isinstance(item, bytes)
                frame = json.loads(item)
                if frame["type"] == "snapshot":
                    covered = hub.seq
                elif frame["type"] == "delta" and frame["kind"] == "alert":
                    delivered.append(frame["seq"])
        assert c.droppable <= limit
    for item in hub.drain(c):
        assert isinstance(item, bytes)
        frame = json.loads(item)
        if frame["type"] == "snapshot":
            covered = hub.seq
        elif frame["type"] == "delta" and frame["kind"] == "alert":
            delivered.append(frame["seq"])
    assert delivered == sorted(delivered)
    missing = [s for s in published if s not in delivered]
    assert all(s <= covered for s in missing)


def test_unknown_role_refused() -> None:
    with pytest.raises(ValueError):
        make_hub().connect(role="root", user="x", sub=Subscription(), now=0.0)


def test_silences_reach_every_operator_and_engineer_but_not_leadership() -> None:
    """The wall lists every silence in force whatever the subscription (issue 9, defect 3)."""
    from dashboards.state import SilenceView
    hub = make_hub()
    op = connect(hub, sub=Subscription(groups=["flooding"], districts=["Son Tra"]))
    eng = connect(hub, role="engineer")
    boss = connect(hub, role="leadership")
    for c in (op, eng, boss):
        frames(hub, c)
    view = SilenceView(silence_id="s1", matchers={"group": "traffic"}, until=9e9,
                       user="operator", reason="", created=0.0)
    assert hub.publish(view, now=1.0) == 2
    (delta,) = frames(hub, op)
    assert (delta["kind"], delta["data"]["silence_id"], delta["data"]["type"]) == (
        "silence", "s1", "silence")
    assert len(frames(hub, eng)) == 1 and frames(hub, boss) == []
