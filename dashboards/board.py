"""What the wall shows, kept up to date from Kafka: the :class:`~dashboards.state.State` fed
by the feed's records, the :class:`~dashboards.hub.Hub` it publishes to, the snapshots each
filter gets, and the periodic frames (heartbeats, summaries, unregistered sources) and
counters.

No sockets here: the websocket sessions (:mod:`dashboards.live`) move the hub's frames, the
HTTP routes (:mod:`dashboards.web`) read the same state.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from archive.accounts import Scope
from dashboards import protocol
from dashboards import scope as scoping
from dashboards.clients import Client, TokenBucket
from dashboards.deltas import meta_of
from dashboards.history import History
from dashboards.hub import Hub
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import Subscription
from dashboards.state import State, encode
from dashboards.unregistered import UNREGISTERED_ROLES, Unregistered
from ioc.errors import ValidationError
from ioc.events import SEVERITIES, Command, GroupIndicator, Incident, WindowSummary
from ioc.settings import Settings

SNAPSHOT_CACHE = 64  # encoded snapshots kept per state version (one per distinct filter)


def new_epoch() -> str:
    """A fresh epoch: clients holding another one cannot resume (docs/protocol.md).

    >>> len(new_epoch()), new_epoch() != new_epoch()
    (12, True)
    """
    return secrets.token_hex(6)


class Board:
    """The state, the hub and what keeps both moving. ``on_records``, ``on_ready`` and
    ``on_invalid`` are the feed's callbacks; :meth:`run_ticker` runs the periodic frames."""

    def __init__(self, settings: Settings, metrics: DashboardMetrics, history: History, *,
                 hub_options: dict[str, Any] | None = None,
                 heartbeat_s: float = protocol.HEARTBEAT_S,
                 summary_every_s: float = protocol.SUMMARY_EVERY_S) -> None:
        self.metrics = metrics
        self.history = history
        self.stale_after_s = settings.dashboard_stale_after_s
        self.heartbeat_s = heartbeat_s
        self.summary_every_s = summary_every_s
        self.state = State(max_silence_s=settings.max_silence_s,
                           operators_may_silence_broadly=settings.operators_may_silence_broadly)
        self.unregistered = Unregistered()
        self.hub = Hub(self.snapshot, epoch=new_epoch(), narrow=self.narrow,
                       **(hub_options or {}))
        self._snap_cache: dict[tuple[Any, ...], bytes] = {}
        self._snap_key: tuple[int, int, str, bool, int] = (-1, -1, "", False, -1)
        self._summary_key: dict[Scope, int] = {}   # state version of each scope's summary
        self._unregistered_sent: dict[Scope, int] = {}
        self._dropped_seen: dict[str, int] = {}
        self._resyncs_seen: dict[str, int] = {}
        # loop time of the newest indicator read from Kafka (None: none since start)
        self._indicator_at: float | None = None
        self._ready_at: float | None = None

    # --- the feed's callbacks ---------------------------------------------------------------

    def on_records(self, topic: str, records: list[Any]) -> None:
        """Apply a batch of records to the state; publish what changed once live."""
        self.metrics.records_consumed.labels(topic=topic).inc(len(records))
        now = asyncio.get_running_loop().time()
        live = self.hub.ready
        for record in records:
            if isinstance(record, GroupIndicator):
                self._indicator_at = now
            elif isinstance(record, WindowSummary):
                self.unregistered.observe(record)
            changed, prev = self.state.apply(record)
            if changed and isinstance(record, Command):  # a silence made or lifted
                record = self.state.silence_of(record)
            if changed and live and record is not None:
                self.hub.publish(record, now=now, prev=prev)

    def on_ready(self) -> None:
        """The state caught up with the topics: go live under a new epoch."""
        now = asyncio.get_running_loop().time()
        self._ready_at = now
        self.hub.mark_ready(now=now, epoch=new_epoch())
        self.metrics.ready.set(1)

    def on_invalid(self, topic: str, partition: int, offset: int,
                   exc: ValidationError) -> None:
        self.metrics.records_invalid.labels(topic=topic).inc()

    def trends_loaded(self) -> None:
        """The archive's hourly trends were (re)loaded: publish the summaries again."""
        self._summary_key.clear()

    # --- freshness --------------------------------------------------------------------------

    def indicators_age(self) -> float | None:
        """Seconds since the newest indicator arrived from Kafka, counted from when the state
        caught up at the earliest (records replayed at start are not news); None before."""
        if self._ready_at is None:
            return None
        since = max(self._ready_at, self._indicator_at or self._ready_at)
        return max(0.0, asyncio.get_running_loop().time() - since)

    def freshness(self) -> dict[str, Any]:
        """What a page needs to warn about stale data (heartbeats and snapshots)."""
        age = self.indicators_age()
        return {"indicators_age_s": None if age is None else round(age, 1),
                "stale_after_s": self.stale_after_s}

    # --- snapshots --------------------------------------------------------------------------

    def snapshot(self, client: Client, reason: str) -> bytes:
        """The encoded snapshot ``client``'s filter sees (the hub's snapshot callback); one
        encoding per distinct filter and state version."""
        key0 = (self.state.changes, self.hub.seq, self.hub.epoch, self.hub.ready,
                self.unregistered.version)
        if key0 != self._snap_key:
            self._snap_cache.clear()
            self._snap_key = key0
        key = (client.role, client.groups, client.districts, client.severities, client.scope,
               reason)
        data = self._snap_cache.get(key)
        if data is None:
            body: dict[str, Any] = dict(self.state.snapshot(lambda r: client.accepts(meta_of(r))))
            if not client.scope.city_wide:
                body["incidents"] = [n for i in body["incidents"]
                                     if (n := self.narrow(i, client.scope)) is not None]
            if client.role in UNREGISTERED_ROLES:
                body["unregistered"] = scoping.unregistered_view(self.unregistered.view(),
                                                                 client.scope)
            data = encode({"type": "snapshot", "v": protocol.VERSION, "epoch": self.hub.epoch,
                           "seq": self.hub.seq, "ready": self.hub.ready, "reason": reason,
                           **body})
            if len(self._snap_cache) < SNAPSHOT_CACHE:
                self._snap_cache[key] = data
        # freshness changes by the second: added to the cached bytes, never cached
        data = data[:-1] + b"," + encode(self.freshness())[1:]
        self.metrics.snapshot_bytes.observe(len(data))
        return data

    def viewer_snapshot(self, role: str, scope: Scope = scoping.CITY) -> bytes:
        """The snapshot a ``role`` client of ``scope`` with the default subscription would
        get first."""
        viewer = Client(id=0, role=role, user=role, sub=Subscription(),
                        bucket=TokenBucket(1.0, 1.0, 1.0, 0.0), scope=scoping.key(scope))
        viewer.subscribe(Subscription())
        return self.snapshot(viewer, "initial")

    def narrow(self, incident: Incident, scope: Scope) -> Incident | None:
        """``incident`` as ``scope`` sees it (its members' severities from the state)."""
        return scoping.narrow_incident(incident, scope, self.state.severity_of)

    def summary(self, scope: Scope = scoping.CITY) -> bytes:
        """The leadership summary (of ``scope``) encoded; the city-wide one completed with
        the archive's trends (they are city-wide: a scoped summary has its live trends
        only)."""
        if scope.city_wide:
            return encode(self.history.fill_trends(self.state.summary()))
        return encode(self.state.summary(scope))

    # --- periodic frames and counters -------------------------------------------------------

    async def run_ticker(self) -> None:
        """Heartbeats, unregistered-source and summary frames, counters: until cancelled."""
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self.heartbeat_s
        while True:
            await asyncio.sleep(min(self.summary_every_s, self.heartbeat_s))
            if loop.time() >= next_beat:
                self.hub.heartbeat(time.time(), **self.freshness())
                next_beat = loop.time() + self.heartbeat_s
            self.publish_periodic()
            self.sync_counters()

    def publish_periodic(self) -> None:
        """The unregistered sources and the summaries that changed, once per scope that has
        clients for them."""
        version = self.unregistered.version
        for scope in self.hub.scopes(lambda c: c.role in UNREGISTERED_ROLES):
            if self._unregistered_sent.get(scope, 0) != version:
                self._unregistered_sent[scope] = version
                frame = encode({"type": "unregistered", **scoping.unregistered_view(
                    self.unregistered.view(), scope)})
                for role in UNREGISTERED_ROLES:
                    self.hub.publish_to_role(role, "unregistered", frame, scope)
        for scope in self.hub.scopes(lambda c: c.summary):
            if self._summary_key.get(scope) != self.state.changes:
                self._summary_key[scope] = self.state.changes
                self.hub.publish_summary(self.summary(scope), scope)

    def sync_counters(self) -> None:
        """Mirror the hub's plain counters and the state's gauges into Prometheus."""
        m = self.metrics
        _add_new(self.hub.stats.dropped, self._dropped_seen, m.messages_dropped)
        _add_new(self.hub.stats.resyncs, self._resyncs_seen, m.resyncs)
        for role, n in self.hub.counts_by_role().items():
            m.clients.labels(role=role).set(n)
        by_sev = dict.fromkeys(SEVERITIES, 0)
        for a in self.state.alerts.values():
            by_sev[a.severity] += 1
        for sev, n in by_sev.items():
            m.open_alerts.labels(severity=sev).set(n)
        m.sequence.set(self.hub.seq)
        age = self.indicators_age()
        m.indicator_age.set(-1.0 if age is None else age)
        for view in self.unregistered.view()["groups"]:
            m.unregistered_sources.labels(group=view["group"]).set(view["count"])
        m.ready.set(1 if self.hub.ready else 0)


def _add_new(totals: dict[str, int], seen: dict[str, int], counter: Any) -> None:
    """Add to ``counter`` (labelled by reason) what ``totals`` grew by since ``seen``."""
    for reason, n in totals.items():
        before = seen.get(reason, 0)
        if n > before:
            counter.labels(reason=reason).inc(n - before)
            seen[reason] = n
