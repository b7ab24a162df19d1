"""Escalation chains in the database: a record starts, updates or stops its alert's chain on
each escalating route (ack, resolve or silence stop it, with an audit line), and the clock
runs the steps that are due, planning their deliveries. The pure rules live in
:mod:`notify.escalation`; this module loads and stores their state, inside the planner's
transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import schema
from notify import escalation as esc
from notify.config import Config, Route
from notify.items import Item
from notify.people import Contact
from notify.plans import Plan, plan_deliveries
from notify.routing import silenced_by

__all__ = ["Chains"]

_item = msgspec.json.Decoder(Item)


class Chains:
    """The escalation chains of ``config``'s routes."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.routes = {r.name: r for r in config.routes}

    def take(self, conn: Connection, pairs: list[tuple[Item, Route]], now: float
             ) -> list[str]:
        """Start, update or stop the chains of ``pairs`` (alert items and the escalating
        routes that took them); returns the stop reasons of the chains stopped."""
        if not pairs:
            return []
        t = schema.notify_escalations
        keys = sorted({esc.chain_key(r.name, i.id, i.first_seen) for i, r in pairs})
        held = {row.key: row for row in conn.execute(
            sa.select(t).where(t.c.key.in_(keys)).with_for_update())}
        stopped = []
        for item, route in pairs:
            key = esc.chain_key(route.name, item.id, item.first_seen)
            row = held.get(key)
            if row is None:
                if item.status != "firing":
                    continue
                c = esc.start(route, item.id, first_seen=item.first_seen, now=now)
                conn.execute(t.insert().values(
                    key=c.key, route=c.route, alert_id=c.alert_id, first_seen=c.first_seen,
                    step=c.step, next_at=c.next_at, item=msgspec.json.encode(item).decode(),
                    stopped_at=None, stop_reason=None))
                held[key] = conn.execute(sa.select(t).where(t.c.key == key)).one()
                continue
            if _item.decode(row.item).version >= item.version:
                continue
            values: dict[str, Any] = {"item": msgspec.json.encode(item).decode()}
            if row.stop_reason is None and item.status in ("acknowledged", "resolved",
                                                           "silenced"):
                values.update(next_at=None, stopped_at=now, stop_reason=item.status)
                stopped.append(item.status)
                conn.execute(schema.notify_audit.insert().values(
                    ts=now, route=route.name, alert_id=item.id, step=row.step,
                    event="stopped", receiver=None, channel=None, outbox_key=None,
                    detail=f"{item.status} by {item.user or 'the worker'}"
                           + (f": {item.reason}" if item.reason else "")))
            conn.execute(t.update().where(t.c.key == key).values(**values))
            held[key] = conn.execute(sa.select(t).where(t.c.key == key)).one()
        return stopped

    def due(self, conn: Connection, contacts: Mapping[str, Contact], now: float,
            limit: int) -> Plan:
        """Run the steps due at ``now`` (a silenced item's step is audited, not told)."""
        t = schema.notify_escalations
        plan = Plan()
        rows = conn.execute(sa.select(t).where(t.c.next_at <= now).order_by(t.c.next_at)
                            .limit(limit).with_for_update())
        for row in rows.all():
            route = self.routes.get(row.route)
            item = _item.decode(row.item)
            if route is None or not route.escalation:
                conn.execute(t.update().where(t.c.key == row.key).values(
                    next_at=None, stop_reason="no_route", stopped_at=now))
                continue
            chain = esc.Chain(row.key, row.route, row.alert_id, row.first_seen,
                              started=_started(row, route), step=row.step, next_at=row.next_at)
            for step in esc.due_steps(chain, route, now):
                if silenced_by(item, self.config.silences, now) is not None:
                    plan.audit.append({"ts": now, "route": route.name, "alert_id": item.id,
                                       "step": step, "event": "suppressed", "receiver": None,
                                       "channel": None, "outbox_key": None,
                                       "detail": "silence"})
                    continue
                plan.extend(plan_deliveries(
                    self.config, contacts, kind="escalation", route=route.name,
                    receivers=route.escalation[step].receivers, items=[item],
                    key_parts=(chain.key, step), now=now, step=step, alert_id=item.id))
            conn.execute(t.update().where(t.c.key == row.key).values(
                step=chain.step, next_at=chain.next_at, stop_reason=chain.stop,
                stopped_at=now if chain.stop else None))
        return plan


def _started(row: Any, route: Route) -> float:
    """When a stored chain started: its next step's time less that step's ``after``."""
    steps = route.escalation
    return float(row.next_at) - steps[min(row.step, len(steps) - 1)].after
