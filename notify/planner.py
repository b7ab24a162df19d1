"""The planner: records of ``ioc.alerts`` and the clock in, groups, escalation chains and
outbox rows out, each step one database transaction.

* :meth:`Planner.ingest` takes one poll's records: it checks and advances the consumer's
  stored offsets (``archive_offsets``, under the notifier's own consumer name) and updates the
  groups and chains the records touch, in one transaction: a ``kill -9`` before the commit
  reads the records again, after it never.
* :meth:`Planner.tick` flushes the groups that are due and runs the escalation steps that are
  due, writing their outbox rows and audit lines in the transaction that advances the group
  (its notification number) or the chain (its step): a decision is made once.

The pure rules live in :mod:`notify.grouping`, :mod:`notify.escalation` and
:mod:`notify.plans`; this module only loads and stores the groups' state, and
:mod:`notify.chains` the escalation chains'.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import schema
from archive.store import Fenced, Store, Unavailable
from ioc.errors import ValidationError
from ioc.events import decode_alert
from notify import grouping
from notify.chains import Chains
from notify.config import Config, Route
from notify.items import Item, item_of
from notify.outbox import insert_rows
from notify.people import Contact
from notify.plans import Plan, plan_deliveries
from notify.routing import routes_for, silenced_by

__all__ = ["Ingested", "Planner"]

TP = tuple[str, int]
_items = msgspec.json.Decoder(dict[str, Item])
_labels = msgspec.json.Decoder(dict[str, str])


@dataclass
class Ingested:
    items: int = 0
    plan: Plan = field(default_factory=Plan)  # what groups due at once told
    rejects: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)  # chains stopped: their stop reason


class Planner:
    """Plans notifications for ``config`` in ``store``. ``contacts`` reads accounts'
    contact details (cached ``contacts_ttl`` seconds); ``lock`` serialises this process's
    write transactions (SQLite allows one writer)."""

    def __init__(self, store: Store, config: Config, *, consumer: str,
                 contacts: Callable[[], Mapping[str, Contact]],
                 lock: threading.Lock | None = None, contacts_ttl: float = 30.0) -> None:
        self.store = store
        self.config = config
        self.consumer = consumer
        self.routes = {r.name: r for r in config.routes}
        self.chains = Chains(config)
        self.lock = lock or threading.Lock()
        self._contacts = contacts
        self._contacts_ttl = contacts_ttl
        self._contacts_at = -1e18
        self._contacts_cache: Mapping[str, Contact] = {}

    def contacts(self, now: float) -> Mapping[str, Contact]:
        if now - self._contacts_at > self._contacts_ttl or now < self._contacts_at:
            self._contacts_cache = self._contacts()
            self._contacts_at = now
        return self._contacts_cache

    # --- offsets ---------------------------------------------------------------------------
    def offsets(self, topics: Iterable[str]) -> dict[TP, int]:
        return self.store.offsets(self.consumer, topics)

    def start_at(self, offsets: Mapping[TP, int], now: float | None = None) -> None:
        """Store where a first run starts reading (partitions without a stored offset);
        :class:`~archive.store.Fenced` when another notifier stored one first."""
        now = time.time() if now is None else now
        try:
            with self.lock, self.store.engine.begin() as conn:
                _advance(conn, self.consumer, offsets, {}, now)
        except sa.exc.OperationalError as exc:
            raise Unavailable(str(exc).splitlines()[0]) from None

    # --- records in ------------------------------------------------------------------------
    def ingest(self, records: Iterable[tuple[str, int, int, bytes]],
               expected: Mapping[TP, int | None], now: float | None = None) -> Ingested:
        """Take one poll's records ``(topic, partition, offset, value)``; raise
        :class:`~archive.store.Fenced` when another notifier moved the offsets on."""
        now = time.time() if now is None else now
        got = Ingested()
        items: list[Item] = []
        offsets: dict[TP, int] = {}
        for topic, partition, offset, raw in records:
            offsets[(topic, partition)] = max(offsets.get((topic, partition), 0), offset + 1)
            try:
                items.append(item_of(decode_alert(raw)))
            except ValidationError as exc:
                got.rejects.append(f"{topic}[{partition}]@{offset}: {exc}")
        got.items = len(items)
        pairs = [(i, r) for i in items for r in routes_for(i, self.config.routes, now)]
        try:
            with self.lock, self.store.engine.begin() as conn:
                _advance(conn, self.consumer, offsets, expected, now)
                got.plan = self._absorb(conn, [(i, r) for i, r in pairs if r.receivers], now)
                self._store(conn, got.plan)
                got.stopped = self.chains.take(conn, [(i, r) for i, r in pairs
                                                  if r.escalation and i.kind == "alert"], now)
        except sa.exc.OperationalError as exc:
            raise Unavailable(str(exc).splitlines()[0]) from None
        return got

    def _absorb(self, conn: Connection, pairs: list[tuple[Item, Route]], now: float) -> Plan:
        """Take the items into their groups; a group due already (``group_wait = 0``) is
        flushed here, in this transaction, rather than stored and read back by the tick."""
        if not pairs:
            return Plan()
        t = schema.notify_groups
        keyed = [(grouping.group_key(r, i), i, r) for i, r in pairs]
        keys = sorted({k for (k, _), _, _ in keyed})
        groups = {row.key: _group(row) for row in conn.execute(
            sa.select(t).where(t.c.key.in_(keys)).with_for_update())}
        fresh = set(keys) - set(groups)
        dirty = set()
        for (key, labels), item, route in keyed:
            g = groups.get(key)
            if g is None:
                g = groups[key] = grouping.Group(key=key, route=route.name, labels=labels)
            if grouping.absorb(g, route, item, now):
                dirty.add(key)
        due = [g for k in sorted(dirty)
               if (g := groups[k]).next_flush_at is not None and g.next_flush_at <= now]
        plan, gone = self._flush(due, self.contacts(now) if due else {}, now)
        inserts = [{"key": k, "route": groups[k].route, "labels": json.dumps(groups[k].labels),
                    **_group_values(groups[k], now)} for k in sorted((dirty & fresh) - gone)]
        if inserts:
            conn.execute(t.insert(), inserts)
        _update_groups(conn, [groups[k] for k in sorted(dirty - fresh - gone)], now)
        if gone - fresh:
            conn.execute(t.delete().where(t.c.key.in_(sorted(gone - fresh))))
        return plan

    # --- the clock -------------------------------------------------------------------------
    def tick(self, now: float | None = None, limit: int = 2000) -> Plan:
        """Flush due groups and run due escalation steps; returns what was planned."""
        now = time.time() if now is None else now
        contacts = self.contacts(now)
        plan = Plan()
        try:
            with self.lock, self.store.engine.begin() as conn:
                plan.extend(self._flush_groups(conn, contacts, now, limit))
                plan.extend(self.chains.due(conn, contacts, now, limit))
                self._store(conn, plan)
        except sa.exc.OperationalError as exc:
            raise Unavailable(str(exc).splitlines()[0]) from None
        return plan

    def _store(self, conn: Connection, plan: Plan) -> None:
        """Write ``plan``'s outbox rows and audit lines (in the caller's transaction)."""
        insert_rows(self.store, conn, plan.rows)
        if plan.audit:
            conn.execute(schema.notify_audit.insert(), plan.audit)

    def held(self, now: float) -> Callable[[Item], bool]:
        return lambda i: silenced_by(i, self.config.silences, now) is not None

    def _flush_groups(self, conn: Connection, contacts: Mapping[str, Contact], now: float,
                      limit: int) -> Plan:
        t = schema.notify_groups
        rows = conn.execute(sa.select(t).where(t.c.next_flush_at <= now)
                            .order_by(t.c.next_flush_at).limit(limit).with_for_update())
        groups = [_group(row) for row in rows.all()]
        plan, gone = self._flush(groups, contacts, now)
        _update_groups(conn, [g for g in groups if g.key not in gone], now)
        if gone:
            conn.execute(t.delete().where(t.c.key.in_(sorted(gone))))
        return plan

    def _flush(self, groups: list[grouping.Group], contacts: Mapping[str, Contact],
               now: float) -> tuple[Plan, set[str]]:
        """Flush due ``groups`` (updated in place): what they tell, and the keys of those
        left empty (or whose route left the config), to delete."""
        plan, gone = Plan(), set()
        held = self.held(now)
        for g in groups:
            route = self.routes.get(g.route)
            if route is None:  # the route left the config
                gone.add(g.key)
                continue
            f = grouping.flush(g, route, now, held)
            if f is not None:
                plan.extend(plan_deliveries(
                    self.config, contacts, kind="group", route=route.name,
                    receivers=route.receivers, items=f.items, key_parts=(g.key, f.seq),
                    now=now, group_key=g.key, group_labels=g.labels))
            if not g.alerts:
                gone.add(g.key)
        return plan, gone


def _advance(conn: Connection, consumer: str, offsets: Mapping[TP, int],
             expected: Mapping[TP, int | None], now: float) -> None:
    """Move ``consumer``'s stored offsets to ``offsets`` if they still are ``expected``
    (:class:`~archive.store.Fenced` otherwise: another notifier owns the partition now)."""
    t = schema.archive_offsets
    for (topic, partition), nxt in sorted(offsets.items()):
        want = expected.get((topic, partition))
        where = (t.c.consumer == consumer) & (t.c.topic == topic) & (
            t.c.partition == partition)
        if want is None:
            if conn.execute(sa.select(t.c.next_offset).where(where)).first() is not None:
                raise Fenced(f"{topic}[{partition}]: another notifier stored an offset")
            conn.execute(t.insert().values(consumer=consumer, topic=topic,
                                           partition=partition, next_offset=nxt,
                                           updated_at=now))
        elif conn.execute(t.update().where(where & (t.c.next_offset == want)).values(
                next_offset=nxt, updated_at=now)).rowcount != 1:
            raise Fenced(f"{topic}[{partition}]: the stored offset moved on")


def _group(row: Any) -> grouping.Group:
    return grouping.Group(key=row.key, route=row.route, labels=_labels.decode(row.labels),
                          alerts=_items.decode(row.alerts), notified=_labels.decode(row.notified),
                          seq=row.seq, next_flush_at=row.next_flush_at,
                          last_sent_at=row.last_sent_at)


def _update_groups(conn: Connection, groups: list[grouping.Group], now: float) -> None:
    """Store the state of ``groups`` (one statement for all)."""
    if not groups:
        return
    t = schema.notify_groups
    names = ("alerts", "notified", "seq", "next_flush_at", "last_sent_at", "updated_at")
    conn.execute(t.update().where(t.c.key == sa.bindparam("k")).values(
        **{n: sa.bindparam(f"v_{n}") for n in names}),
        [{"k": g.key, **{f"v_{n}": v for n, v in _group_values(g, now).items()}}
         for g in groups])


def _group_values(g: grouping.Group, now: float) -> dict[str, Any]:
    return {"alerts": msgspec.json.encode(g.alerts).decode(),
            "notified": msgspec.json.encode(g.notified).decode(),
            "seq": g.seq, "next_flush_at": g.next_flush_at, "last_sent_at": g.last_sent_at,
            "updated_at": now}
