"""Detector feedback in the archive: operators' labels and shadow detectors' alerts.

The archive consumer hands every labelled alert record (an :class:`~ioc.events.Alert` with a
``label``) and every record of the shadow topic to :func:`write_feedback`, before the batch
they came in (so a crash between the two replays them, and the writes are idempotent: one
``alert_labels`` row per episode (alert_id, first_seen), the highest labelling version wins;
one ``shadow_alerts`` row per (alert_id, window end)). The read side gives the rows the
reports need: labels, shadow windows and the live episodes (openings in ``alert_versions``).

>>> from ioc.events import Alert, Evidence
>>> ev = Evidence(window_start=0.0, window_end=60.0, value=9.0, baseline=2.0, threshold=None,
...               score=0.95, raw=4.0, detector="robust_z", detector_version="1", params={},
...               recent=[])
>>> a = Alert(alert_id="robust_z:flooding:rain-HC-01:rainfall", version=3, status="resolved",
...           severity="warning", category="city", group="flooding", district="Hai Chau",
...           source="rain-HC-01", metric="rainfall", detector="robust_z", title="t",
...           first_seen=60.0, last_seen=180.0, count=3, updated_at=200.0, change="resolved",
...           evidence=ev, user="operator:lan", label="false_alarm", label_note="drain works")
>>> row = label_row(a); row["label"], row["note"], row["first_seen"], row["version"]
('false_alarm', 'drain works', 60.0, 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from archive.records import Batch
from archive.schema import alert_labels, alert_versions, shadow_alerts
from archive.store import Store, Unavailable
from ioc.errors import ValidationError
from ioc.events import Alert, decode_alert, encode

__all__ = ["FeedbackBatch", "label_row", "labels", "live_openings", "shadow_row",
           "shadow_windows", "write_feedback"]


class FeedbackBatch:
    """The labelled alerts and shadow records of one poll (what cannot be decoded is left to
    the batch: labelled alerts are archived as alerts too, shadow records only here)."""

    def __init__(self) -> None:
        self.labelled: list[Alert] = []
        self.shadow: list[Alert] = []

    def __bool__(self) -> bool:
        return bool(self.labelled or self.shadow)

    def alert_record(self, raw: bytes | None) -> None:
        """An ``ioc.alerts`` record: kept when it is an alert with a label."""
        if not raw or b'"label"' not in raw:
            return
        try:
            rec = decode_alert(raw)
        except ValidationError:
            return  # the batch rejects it
        if isinstance(rec, Alert) and rec.label is not None:
            self.labelled.append(rec)

    def shadow_record(self, batch: Batch, topic: str, partition: int, offset: int,
                      raw: bytes | None) -> None:
        """A shadow topic record: kept, and its offset moves the batch's (so it is stored
        with the batch's offsets); an undecodable one is rejected in the batch."""
        try:
            rec = decode_alert(raw or b"")
        except ValidationError:
            batch.add("alerts", topic, partition, offset, raw)
            return
        batch.offsets[(topic, partition)] = offset + 1
        batch.records += 1
        if isinstance(rec, Alert):
            self.shadow.append(rec)


def label_row(a: Alert) -> dict[str, Any]:
    """The ``alert_labels`` row of a labelled alert record."""
    return {"alert_id": a.alert_id, "first_seen": a.first_seen, "version": a.version,
            "detector": a.detector, "category": a.category, "group_slug": a.group,
            "district": a.district, "source": a.source, "metric": a.metric,
            "label": a.label, "note": a.label_note, "user_name": a.user,
            "display_name": a.display_name, "labelled_at": a.updated_at,
            "last_seen": a.last_seen}


def shadow_row(a: Alert) -> dict[str, Any]:
    """The ``shadow_alerts`` row of one shadow record (one window)."""
    ev = a.evidence
    return {"alert_id": a.alert_id, "window_end": ev.window_end,
            "window_start": ev.window_start, "detector": a.detector, "category": a.category,
            "group_slug": a.group, "district": a.district, "source": a.source,
            "metric": a.metric, "severity": a.severity, "score": ev.score, "side": ev.side,
            "record": encode(a).decode()}


def write_feedback(store: Store, labelled: Sequence[Alert], shadow: Sequence[Alert]) -> None:
    """Write labels and shadow windows idempotently, in one transaction."""
    if not (labelled or shadow):
        return
    try:
        with store._begin() as conn:
            _write(conn, labelled, shadow)
    except sa.exc.OperationalError as exc:
        raise Unavailable(str(exc).splitlines()[0]) from None


def _write(conn: Any, labelled: Sequence[Alert], shadow: Sequence[Alert]) -> None:
    for row in _latest(labelled):
        key = (alert_labels.c.alert_id == row["alert_id"]) & (
            alert_labels.c.first_seen == row["first_seen"])
        held = conn.execute(sa.select(alert_labels.c.version).where(key)).scalar()
        if held is None:
            conn.execute(alert_labels.insert().values(**row))
        elif row["version"] > held:
            conn.execute(alert_labels.update().where(key).values(**row))
    rows = {(r["alert_id"], r["window_end"]): r for r in map(shadow_row, shadow)}
    for (aid, end), row in rows.items():
        there = conn.execute(sa.select(shadow_alerts.c.alert_id).where(
            (shadow_alerts.c.alert_id == aid) & (shadow_alerts.c.window_end == end))).first()
        if there is None:
            conn.execute(shadow_alerts.insert().values(**row))


def _latest(labelled: Iterable[Alert]) -> list[dict[str, Any]]:
    """One row per episode: its highest version's."""
    best: dict[tuple[str, float], Alert] = {}
    for a in labelled:
        k = (a.alert_id, a.first_seen)
        if k not in best or a.version > best[k].version:
            best[k] = a
    return [label_row(a) for a in best.values()]


def labels(store: Store, since: float | None = None, until: float | None = None
           ) -> list[dict[str, Any]]:
    """Labelled episodes whose first window is in [since, until), oldest first."""
    q = sa.select(alert_labels).order_by(alert_labels.c.first_seen)
    if since is not None:
        q = q.where(alert_labels.c.first_seen >= since)
    if until is not None:
        q = q.where(alert_labels.c.first_seen < until)
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def shadow_windows(store: Store, since: float | None = None, until: float | None = None,
                   detector: str | None = None) -> list[dict[str, Any]]:
    """Shadow windows ending in [since, until), of ``detector`` (default: all), in order."""
    c = shadow_alerts.c
    q = sa.select(c.alert_id, c.window_start, c.window_end, c.detector, c.group_slug,
                  c.source, c.metric, c.district, c.score, c.side).order_by(c.window_end)
    if since is not None:
        q = q.where(c.window_end >= since)
    if until is not None:
        q = q.where(c.window_end < until)
    if detector is not None:
        q = q.where(c.detector == detector)
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def live_openings(store: Store, since: float | None = None, until: float | None = None
                  ) -> list[dict[str, Any]]:
    """The live alert episodes seen in [since, until): alert_id, detector, group, source,
    metric, start (first_seen) and end (the episode's last last_seen), oldest first."""
    c = alert_versions.c
    q = (sa.select(c.alert_id, c.first_seen, sa.func.max(c.last_seen).label("end"),
                   sa.func.min(c.detector).label("detector"),
                   sa.func.min(c.group_slug).label("group_slug"),
                   sa.func.min(c.source).label("source"), sa.func.min(c.metric).label("metric"))
         .group_by(c.alert_id, c.first_seen).order_by(c.first_seen))
    if since is not None:
        q = q.where(c.first_seen >= since)
    if until is not None:
        q = q.where(c.first_seen < until)
    with store.connect() as conn:
        return [{**dict(r._mapping), "start": r.first_seen} for r in conn.execute(q)]


def feedback_report(store: Store, *, since: float | None = None, until: float | None = None,
                    by: str = "week") -> dict[str, Any]:
    """Measured precision per detector and metric (and per ``by`` period) from the labels of
    episodes that began in [since, until), with the totals per detector."""
    from archive.feedback_figures import precision_table

    rows = labels(store, since, until)
    return {"since": since, "until": until, "by": by, "labelled": len(rows),
            "rows": precision_table(rows, by=by),
            "detectors": precision_table(
                [{**r, "group_slug": "*", "metric": "*"} for r in rows], by="all")}


def shadow_comparison(store: Store, detector: str, *, since: float, until: float
                      ) -> dict[str, Any]:
    """Shadow detector ``detector`` against the live detectors over [since, until)."""
    from archive.feedback_figures import shadow_report

    return shadow_report(shadow_windows(store, since, until, detector),
                         live_openings(store, since, until), labels(store, since, until),
                         detector=detector, span_s=until - since)
