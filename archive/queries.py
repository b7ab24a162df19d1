"""The archive's read side: history search, an alert's history, and the figures of reports.

Read-only SQLAlchemy Core, one code path for SQLite and PostgreSQL; no I/O besides the
store's engine. The dashboard and ``ioc report`` read the store only through this module.

**Search** (:func:`search_alerts`) returns *matching versions*, not alerts: an alert id lives
across episodes (the same source and metric opens a new episode under the same id), so "what
happened at this source last week" is a question about versions. Each row is one version
(its status, severity, who and why at that moment), newest first; the alert's whole story is
:func:`alert_history`. Pages are cut by an opaque keyset cursor (``updated_at``, ``alert_id``,
``version`` of the last row), never by OFFSET, so page 1,000 costs what page 1 costs. Every
filter but ``text`` rides an index of :mod:`archive.schema` (``group``, ``district``,
``source``, else ``updated_at``); ``text`` is a case-insensitive substring of the title, id or
source, checked while walking the chosen index newest first.

**Episodes** (:func:`episodes`) are what reports count: an episode starts with a version whose
change is ``opened`` and holds the versions that share its ``first_seen`` (the alert's
versions until its next ``opened`` one: a reopened alert keeps ``first_seen``). Its ack is the first
``acknowledged`` version of the episode; it is resolved when its last version's status is
``resolved``, at the time of its last ``resolved``/``auto_resolved`` version (a reopened alert
resolved again counts until the final resolution).

>>> import tempfile, pathlib
>>> from archive.store import Store
>>> from archive.sample import add_alert_versions
>>> store = Store(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'q.db'}")
>>> store.migrate()
>>> _ = add_alert_versions(store, "robust_z:flooding:flood-HC-01:flood_depth",
...     [("opened", 1000.0, None), ("acknowledged", 1100.0, "operator"),
...          ("resolved", 1700.0, "operator")], severity="major")
>>> page = search_alerts(store, group="flooding", limit=2)
>>> [(r["version"], r["change"], r["user_name"]) for r in page.rows]
[(3, 'resolved', 'operator'), (2, 'acknowledged', 'operator')]
>>> [r["change"] for r in search_alerts(store, cursor=page.next_cursor).rows]
['opened']
>>> e, = episodes(store, since=0.0, until=2000.0)
>>> e.ack_s, e.resolve_s, e.ack_user
(100.0, 700.0, 'operator')
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from archive import schema
from archive.accounts import Scope
from archive.store import Store
from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import SEVERITIES, split_alert_id

__all__ = ["STATUSES", "Episode", "Page", "alert_history", "check_district", "check_group",
           "decode_cursor", "encode_cursor", "episodes", "incidents_opened", "rollups",
           "search_alerts"]

Q = TypeVar("Q", bound=sa.Select[Any])
STATUSES = ("firing", "acknowledged", "resolved", "silenced")
MAX_LIMIT = 500
MAX_TEXT = 200
RESOLVING = ("resolved", "auto_resolved")

_SEARCH_COLUMNS = ("alert_id", "version", "status", "severity", "category", "group_slug",
                   "district", "source", "metric", "detector", "title", "change",
                   "first_seen", "last_seen", "updated_at", "user_name", "reason", "note",
                   "display_name")


@dataclass(frozen=True)
class Page:
    """One page of a search: its rows (newest first) and the cursor of the next page (None
    on the last page)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class Episode:
    """One episode of an alert (see the module docstring). Times are epoch seconds."""

    alert_id: str
    version: int
    opened_at: float
    group: str
    district: str
    severity: str          # at opening
    source: str
    detector: str
    acked_at: float | None
    ack_user: str | None
    resolved_at: float | None

    @property
    def ack_s(self) -> float | None:
        """Seconds from opening to the first acknowledgement (None: never acknowledged)."""
        return None if self.acked_at is None else max(0.0, self.acked_at - self.opened_at)

    @property
    def resolve_s(self) -> float | None:
        """Seconds from opening to the resolution (None: still open at the newest version)."""
        return None if self.resolved_at is None else max(0.0, self.resolved_at - self.opened_at)


# --- cursors -------------------------------------------------------------------------------
def encode_cursor(updated_at: float, alert_id: str, version: int) -> str:
    """The opaque cursor after a row (URL-safe, no padding).

    >>> c = encode_cursor(1.5, "d:g:s:m", 3)
    >>> decode_cursor(c)
    (1.5, 'd:g:s:m', 3)
    """
    raw = json.dumps([updated_at, alert_id, version], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str, int]:
    """The row a cursor points after; :class:`~ioc.errors.ValidationError` (field ``cursor``)
    for anything :func:`encode_cursor` did not make.

    >>> decode_cursor("bm9wZQ")
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: cursor: not a cursor of this search (start again without it)
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        t, alert_id, version = json.loads(raw)
        if isinstance(t, bool) or not isinstance(t, int | float) or not isinstance(
                alert_id, str) or not isinstance(version, int) or isinstance(version, bool):
            raise TypeError
        return float(t), alert_id, version
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError("cursor", "not a cursor of this search (start again without it)"
                              ) from None


# --- validation ----------------------------------------------------------------------------
def _check(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    if value is None or value == "":
        return None
    known = tuple(allowed)
    if value not in known:
        raise ValidationError(name, f"unknown {name} {value!r} (known: {', '.join(known)})")
    return value


def check_group(group: str | None) -> str | None:
    """``group`` if it is a catalog group (None/empty: no filter), else ValidationError."""
    return _check("group", group, catalog.GROUPS)


def check_district(district: str | None) -> str | None:
    """``district`` if it is a catalog district (None/empty: no filter), else
    ValidationError."""
    return _check("district", district, [d.name for d in catalog.DISTRICTS])


# --- scope ---------------------------------------------------------------------------------
def within(q: Q, scope: Scope | None, district: sa.ColumnElement[Any],
           group: sa.ColumnElement[Any]) -> Q:
    """``q`` restricted to the rows whose ``district`` and ``group`` columns are in ``scope``
    (None or the whole city: unchanged)."""
    if scope is not None and scope.districts:
        q = q.where(district.in_(scope.districts))
    if scope is not None and scope.groups:
        q = q.where(group.in_(scope.groups))
    return q


# --- search ----------------------------------------------------------------------------------
def search_alerts(store: Store, *, text: str | None = None, group: str | None = None,
                  district: str | None = None, source: str | None = None,
                  severity: str | None = None, status: str | None = None,
                  since: float | None = None, until: float | None = None, limit: int = 50,
                  cursor: str | None = None, scope: Scope | None = None) -> Page:
    """Alert versions matching every filter given, newest first (see the module docstring);
    ``since`` <= updated_at < ``until``; only those in ``scope``, when given. Raise
    :class:`~ioc.errors.ValidationError` naming the parameter for an unknown group, district,
    severity or status, a bad limit or cursor.
    """
    a = schema.alert_versions
    check_group(group)
    check_district(district)
    _check("severity", severity, SEVERITIES)
    _check("status", status, STATUSES)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"must be 1 to {MAX_LIMIT}, got {limit}")
    if text is not None and len(text) > MAX_TEXT:
        raise ValidationError("text", f"at most {MAX_TEXT} characters")
    if source is not None and len(source) > 128:
        raise ValidationError("source", "at most 128 characters")
    cols = [a.c[name] for name in _SEARCH_COLUMNS]
    q = sa.select(*cols)
    for column, value in ((a.c.group_slug, group), (a.c.district, district),
                          (a.c.source, source), (a.c.severity, severity),
                          (a.c.status, status)):
        if value:
            q = q.where(column == value)
    q = within(q, scope, a.c.district, a.c.group_slug)
    if since is not None:
        q = q.where(a.c.updated_at >= since)
    if until is not None:
        q = q.where(a.c.updated_at < until)
    if text and text.strip():
        needle = text.strip().lower()
        q = q.where(sa.or_(sa.func.lower(a.c.title).contains(needle, autoescape=True),
                           sa.func.lower(a.c.alert_id).contains(needle, autoescape=True),
                           sa.func.lower(a.c.source).contains(needle, autoescape=True)))
    if cursor:
        t, alert_id, version = decode_cursor(cursor)
        # the first term alone is an index range; the second breaks ties within one time
        q = q.where(a.c.updated_at <= t).where(sa.or_(
            a.c.updated_at < t, a.c.alert_id < alert_id,
            (a.c.alert_id == alert_id) & (a.c.version < version)))
    q = q.order_by(a.c.updated_at.desc(), a.c.alert_id.desc(), a.c.version.desc())
    q = q.limit(limit + 1)
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        r["group"] = r.pop("group_slug")
    nxt = None
    if more and rows:
        last = rows[-1]
        nxt = encode_cursor(last["updated_at"], last["alert_id"], last["version"])
    return Page(rows, nxt)


# --- an alert's history ----------------------------------------------------------------------
def alert_history(store: Store, alert_id: str, scope: Scope | None = None
                  ) -> dict[str, Any] | None:
    """Every version of ``alert_id`` (oldest first, each with its whole record) and every
    command that named it (who, what, when, result, notes); None when the store holds
    neither, or when the alert is outside ``scope`` (as if it did not exist: a scoped
    reader learns nothing of other districts; commands alone place an alert in no
    district)."""
    if not alert_id or len(alert_id) > schema.ID:
        raise ValidationError("alert_id", f"must be 1 to {schema.ID} characters")
    a, c = schema.alert_versions, schema.commands
    with store.connect() as conn:
        versions = conn.execute(sa.select(a).where(a.c.alert_id == alert_id)
                                .order_by(a.c.version)).all()
        commands = conn.execute(sa.select(
            c.c.command_id, c.c.action, c.c.user_name, c.c.ts, c.c.reason, c.c.text,
            c.c.result, c.c.display_name).where(c.c.alert_id == alert_id)
            .order_by(c.c.ts, c.c.command_id)).all()
    if not versions and not commands:
        return None
    if scope is not None and not scope.city_wide:
        if versions:
            place = {"district": versions[0].district, "group": versions[0].group_slug}
        elif scope.districts:
            return None
        else:
            place = {"group": split_alert_id(alert_id)[1]}
        if not scope.allows(**place):
            return None
    out_versions = []
    for v in versions:
        row = dict(v._mapping)
        record = json.loads(row.pop("record"))
        row["group"] = row.pop("group_slug")
        row["notes"] = record.get("notes", [])
        row["evidence"] = record.get("evidence")
        row["incident_id"] = record.get("incident_id")
        row["silenced_until"] = record.get("silenced_until")
        out_versions.append(row)
    out_commands = [{"command_id": r.command_id, "action": r.action, "user": r.user_name,
                     "display_name": r.display_name, "ts": r.ts, "reason": r.reason or None,
                     "text": r.text,
                     "result": r.result or "accepted"} for r in commands]
    return {"alert_id": alert_id, "versions": out_versions, "commands": out_commands}


# --- report figures --------------------------------------------------------------------------
def episodes(store: Store, *, since: float, until: float, group: str | None = None,
             district: str | None = None, scope: Scope | None = None) -> list[Episode]:
    """The episodes opened in ``since`` <= t < ``until`` (in ``group`` / ``district`` and
    ``scope`` when given), oldest first, each with its first ack and its resolution. An
    episode's versions share the opening's ``first_seen`` (a reopened alert keeps it, a new
    episode has its own), so each episode is one range of the index (``alert_id``,
    ``first_seen``)."""
    check_group(group)
    check_district(district)
    o = schema.alert_versions.alias("o")
    op = sa.select(o.c.alert_id, o.c.version, o.c.first_seen,
                   o.c.updated_at.label("opened_at"), o.c.group_slug, o.c.district,
                   o.c.severity, o.c.source, o.c.detector).where(
        o.c.change == "opened", o.c.updated_at >= since, o.c.updated_at < until)
    if group:
        op = op.where(o.c.group_slug == group)
    if district:
        op = op.where(o.c.district == district)
    op = within(op, scope, o.c.district, o.c.group_slug)
    ep = op.subquery("ep")
    m = schema.alert_versions.alias("m")
    inner = (sa.select(
        ep, sa.func.min(sa.case((m.c.change == "acknowledged", m.c.version))).label("ack_v"),
        sa.func.max(m.c.version).label("last_v"),
        sa.func.max(sa.case((m.c.change.in_(RESOLVING), m.c.updated_at))).label("resolved_at"))
        .select_from(ep.join(m, (m.c.alert_id == ep.c.alert_id)
                             & (m.c.first_seen == ep.c.first_seen)))
        .group_by(*ep.c).subquery("x"))
    ack, last = schema.alert_versions.alias("ack"), schema.alert_versions.alias("last")
    q = (sa.select(inner, ack.c.updated_at.label("acked_at"), ack.c.user_name.label("ack_user"),
                   last.c.status.label("last_status"))
         .outerjoin(ack, (ack.c.alert_id == inner.c.alert_id) & (ack.c.version == inner.c.ack_v))
         .outerjoin(last, (last.c.alert_id == inner.c.alert_id)
                    & (last.c.version == inner.c.last_v))
         .order_by(inner.c.opened_at, inner.c.alert_id))
    with store.connect() as conn:
        return [Episode(alert_id=r.alert_id, version=r.version, opened_at=r.opened_at,
                        group=r.group_slug, district=r.district, severity=r.severity,
                        source=r.source, detector=r.detector, acked_at=r.acked_at,
                        ack_user=r.ack_user,
                        resolved_at=r.resolved_at if r.last_status == "resolved" else None)
                for r in conn.execute(q)]


def incidents_opened(store: Store, *, since: float, until: float, district: str | None = None,
                     scope: Scope | None = None) -> list[dict[str, Any]]:
    """Incidents whose first version falls in ``since`` <= t < ``until``: id, district,
    groups (a list), severity. With ``scope``: those in its districts that share a group
    with it, each with only its groups in scope."""
    check_district(district)
    i = schema.incident_versions
    q = (sa.select(i.c.incident_id, i.c.district, i.c.groups, i.c.severity, i.c.updated_at)
         .where(i.c.version == 1, i.c.updated_at >= since, i.c.updated_at < until))
    if district:
        q = q.where(i.c.district == district)
    if scope is not None and scope.districts:
        q = q.where(i.c.district.in_(scope.districts))
    out = []
    with store.connect() as conn:
        for r in conn.execute(q.order_by(i.c.updated_at)):
            groups = [g for g in r.groups.split(",") if g and (
                scope is None or scope.allows(group=g))]
            if groups:
                out.append({"incident_id": r.incident_id, "district": r.district,
                            "groups": groups, "severity": r.severity,
                            "opened_at": r.updated_at})
    return out


def rollups(store: Store, *, resolution: str, since: float, until: float,
            group: str | None = None, district: str | None = None,
            prefix: str = "kpi:", scope: Scope | None = None) -> list[dict[str, Any]]:
    """Roll-up rows (``resolution`` ``h`` or ``d``) with ``since`` <= bucket < ``until`` of
    metrics starting with ``prefix`` (in ``scope`` when given): group, district, metric,
    bucket and ``mean`` (counted metrics: per window; measured ones and KPIs: per reading),
    min, max, last."""
    if resolution not in ("h", "d"):
        raise ValidationError("resolution", f"must be 'h' or 'd', got {resolution!r}")
    check_group(group)
    check_district(district)
    r = schema.indicator_rollups
    q = (sa.select(r.c.group_slug, r.c.district, r.c.metric, r.c.bucket, r.c.counted,
                   r.c.windows, r.c.readings, r.c.total, r.c.min, r.c.max, r.c.last)
         .where(r.c.resolution == resolution, r.c.bucket >= since, r.c.bucket < until))
    if group:
        q = q.where(r.c.group_slug == group)
    if district:
        q = q.where(r.c.district == district)
    q = within(q, scope, r.c.district, r.c.group_slug)
    if prefix:
        q = q.where(r.c.metric.startswith(prefix, autoescape=True))
    out = []
    with store.connect() as conn:
        for row in conn.execute(q.order_by(r.c.group_slug, r.c.metric, r.c.bucket)):
            per = row.windows if row.counted else row.readings
            if not per:
                continue
            out.append({"group": row.group_slug, "district": row.district, "metric": row.metric,
                        "bucket": row.bucket, "mean": row.total / per, "min": row.min,
                        "max": row.max, "last": row.last})
    return out
