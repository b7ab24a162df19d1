"""From a decision to outbox rows: a group's flush or an escalation step becomes one row per
receiver and channel (with its message rendered and its idempotency key), or an audit line
saying why a receiver was not told (quiet hours, severity, scope, a silence). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from notify import messages
from notify.config import Config, Receiver
from notify.items import Item, severity_rank
from notify.outbox import idempotency_key
from notify.people import Contact, Delivery, expand

__all__ = ["Plan", "plan_deliveries"]


@dataclass
class Plan:
    """Outbox rows and audit lines planned together."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # one reason per receiver not told

    def extend(self, other: Plan) -> None:
        self.rows += other.rows
        self.audit += other.audit
        self.suppressed += other.suppressed


def _kept(receiver: Receiver, contact: Contact | None, items: Sequence[Item], now: float,
          language: str) -> tuple[list[Item], list[Delivery], str]:
    """The items this receiver may be told, its deliveries (those of the most severe item),
    or the reason it gets none. Plain addresses take every item alike: expanded once."""
    kept: list[tuple[Item, list[Delivery]]] = []
    why = ""
    for i in items[:1] if receiver.account is None else items:
        x = expand(receiver, contact, severity=i.severity, district=i.district,
                   groups=i.groups, now=now, default_language=language)
        if x.deliveries:
            kept.append((i, x.deliveries))
        elif not why:
            why = x.suppressed[0]
    if not kept:
        return [], [], why or "no_items"
    if receiver.account is None:
        return list(items), kept[0][1], ""
    top = max(kept, key=lambda k: severity_rank(k[0].severity))
    return [i for i, _ in kept], top[1], ""


def _message(config: Config, d: Delivery, items: list[Item], status: str, *, step: int | None,
             group_key: str, group_labels: Mapping[str, str]) -> dict[str, Any]:
    if d.channel == "email":
        return messages.email(items, status, d.language, config.wall_url, step)
    if d.channel == "sms":
        return {"text": messages.sms(items, status, d.language, unicode=config.sms.unicode)}
    return {"payload": messages.alertmanager_payload(
        items, status=status, receiver=d.receiver, group_key=group_key,
        group_labels=group_labels, wall_url=config.wall_url, lang=d.language)}


def plan_deliveries(config: Config, contacts: Mapping[str, Contact], *, kind: str,
                    route: str, receivers: Sequence[str], items: Sequence[Item],
                    key_parts: Sequence[object], now: float, step: int | None = None,
                    group_key: str = "", group_labels: Mapping[str, str] | None = None,
                    alert_id: str | None = None) -> Plan:
    """The rows telling ``receivers`` about ``items``; ``key_parts`` name the decision (a
    group and its notification number, or a chain and its step) in the idempotency keys."""
    plan = Plan()
    record_ts = max((i.updated_at for i in items), default=now)
    for name in receivers:
        receiver = config.receivers[name]
        contact = contacts.get(receiver.account) if receiver.account else None
        kept, deliveries, why = _kept(receiver, contact, items, now, config.language)
        if why:
            plan.suppressed.append(why)
            plan.audit.append({"ts": now, "route": route, "alert_id": alert_id, "step": step,
                               "event": "suppressed", "receiver": name, "channel": None,
                               "outbox_key": None, "detail": why})
            continue
        status = "firing" if any(i.status != "resolved" for i in kept) else "resolved"
        for d in deliveries:
            key = idempotency_key(kind, *key_parts, name, d.channel)
            plan.rows.append({
                "key": key, "kind": kind, "route": route, "step": step, "alert_id": alert_id,
                "receiver": name, "channel": d.channel, "address": d.address,
                "message": _message(config, d, kept, status, step=step,
                                    group_key=group_key or key,
                                    group_labels=group_labels or {}),
                "status": "pending", "attempts": 0, "next_attempt_at": now,
                "claimed_until": 0.0, "created_at": now, "record_ts": record_ts})
            if kind == "escalation":
                plan.audit.append({"ts": now, "route": route, "alert_id": alert_id,
                                   "step": step, "event": "notified", "receiver": name,
                                   "channel": d.channel, "outbox_key": key,
                                   "detail": d.address})
    return plan
