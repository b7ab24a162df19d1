"""Retention: what the archive deletes once it is older than its setting (``0`` days: kept
for ever). Hourly and daily indicator roll-ups each have their own; alert and incident
versions and commands share one."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from archive import schema

__all__ = ["apply_retention"]

DAY_S = 86400


def apply_retention(conn: Connection, now: float, *, hourly_days: float, daily_days: float,
                    alert_days: float) -> dict[str, int]:
    """Delete what is older than its retention at ``now``; returns the rows deleted per
    table (``indicator_rollups.h`` and ``.d`` for the two resolutions)."""
    out: dict[str, int] = {}
    r = schema.indicator_rollups
    a, i, c = schema.alert_versions, schema.incident_versions, schema.commands
    for res, days in (("h", hourly_days), ("d", daily_days)):
        if days > 0:
            out[f"indicator_rollups.{res}"] = conn.execute(r.delete().where(
                (r.c.resolution == res) & (r.c.bucket < now - days * DAY_S))).rowcount
    if alert_days > 0:
        cut = now - alert_days * DAY_S
        for name, table, col in (("alert_versions", a, a.c.updated_at),
                                 ("incident_versions", i, i.c.updated_at),
                                 ("commands", c, c.c.ts)):
            out[name] = conn.execute(table.delete().where(col < cut)).rowcount
    return out
