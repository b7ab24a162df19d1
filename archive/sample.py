"""Sample alert histories written straight into a store: the doctests and tests of the read
side, and the benchmark's million alert versions (:func:`seed_alert_versions`).

Rows are what :class:`~archive.records.Batch` makes of real :class:`~ioc.events.Alert`
records (the ``record`` column is a real encoded alert), inserted without offsets: never use
this on a store an archive consumer writes.

>>> import tempfile, pathlib
>>> from archive.store import Store
>>> store = Store(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 's.db'}")
>>> store.migrate()
>>> seed_alert_versions(store, 1000, seed=1)
1000
>>> store.count("alert_versions")
1000
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from archive import schema
from archive.records import Batch
from archive.store import Store
from ioc import catalog
from ioc.events import Alert, Command, Evidence, Note, alert_id, encode

__all__ = ["add_alert_versions", "add_command", "seed_alert_versions"]

_STATUS = {"opened": "firing", "reopened": "firing", "acknowledged": "acknowledged",
           "resolved": "resolved", "auto_resolved": "resolved", "silenced": "silenced"}


def _evidence(t: float) -> Evidence:
    return Evidence(window_start=t - 60, window_end=t, value=34.0, baseline=2.0,
                    threshold=4.0, score=0.95, raw=5.2, detector="robust_z",
                    detector_version="1", params={}, recent=[2.0, 34.0])


def add_alert_versions(store: Store, aid: str, changes: Sequence[tuple[str, float, str | None]],
                       *, severity: str = "warning", district: str = "Hai Chau",
                       first_version: int = 1, title: str | None = None,
                       notes: Sequence[str] = ()) -> list[Alert]:
    """Write versions of alert ``aid`` (``detector:group:source:metric``), one per
    ``(change, updated_at, user)``; ``note`` changes take their text from ``notes`` in
    order. Returns the records written."""
    detector, group, source, metric = aid.split(":")
    status, out, pending, texts = "firing", [], [], list(notes)
    note_list: list[Note] = []
    first_seen = changes[0][1]
    for i, (change, t, user) in enumerate(changes):
        status = _STATUS.get(change, status)
        if change == "opened":
            first_seen = t
        if change == "note":
            note_list = [*note_list, Note(ts=t, user=user or "operator", text=texts.pop(0))]
        rec = Alert(alert_id=aid, version=first_version + i, status=status,  # type: ignore[arg-type]
                    severity=severity, category="city", group=group,  # type: ignore[arg-type]
                    district=district, source=source, metric=metric, detector=detector,
                    title=title or f"{metric} at {source} ({district})", first_seen=first_seen,
                    last_seen=t, count=i + 1, updated_at=t, change=change,
                    evidence=_evidence(t), user=user, notes=note_list)
        out.append(rec)
        pending.append(encode(rec))
    b = Batch()
    for n, raw in enumerate(pending):
        b.add("alerts", "sample.alerts", 0, n, raw)
    _insert(store, schema.alert_versions, b.alerts)
    return out


def add_command(store: Store, *, command_id: str, action: str, user: str, ts: float,
                alert_id: str, reason: str = "", text: str | None = None,
                result: str | None = None) -> None:
    """Write one command on an alert (``result``: None accepted, else ``refused: ...``)."""
    cmd = Command(command_id=command_id, action=action, user=user,  # type: ignore[arg-type]
                  ts=ts, alert_id=alert_id, reason=reason, text=text)
    b = Batch()
    b.add("commands", "sample.commands", 0, 0, encode(cmd))
    rows = [{**r, "result": result} for r in b.commands]
    _insert(store, schema.commands, rows)


def _insert(store: Store, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        with store.engine.begin() as conn:
            conn.execute(table.insert(), rows)


def _rows(n: int, seed: int, start: float, span_s: float) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    lanes = [(g, src, m.name) for g in catalog.CATALOG for src in g.sources()
             for k in g.source_kinds if k.name == src.kind for m in k.metrics]
    versions: dict[str, int] = {}
    made = 0
    while True:
        g, src, metric = rng.choice(lanes)
        det = rng.choice(("robust_z", "cusum", "stuck", "physical_range"))
        aid = alert_id(det, g.slug, src.id, metric)
        t = start + rng.random() * span_s
        sev = rng.choice(("info", "warning", "warning", "major", "critical"))
        steps: list[tuple[str, str, str | None]] = [("opened", "firing", None),
                                                    ("updated", "firing", None)]
        if rng.random() < 0.7:
            steps.append(("acknowledged", "acknowledged", "operator"))
        steps.append(("resolved", "resolved", "operator") if rng.random() < 0.5
                     else ("auto_resolved", "resolved", None))
        for change, status, user in steps:
            if made >= n:
                return
            t += rng.random() * 600
            v = versions[aid] = versions.get(aid, 0) + 1
            record = {"type": "alert", "alert_id": aid, "version": v, "status": status,
                      "severity": sev, "change": change, "user": user, "notes": []}
            yield {"alert_id": aid, "version": v, "status": status, "severity": sev,
                   "category": "city", "group_slug": g.slug, "district": src.district,
                   "source": src.id, "metric": metric, "detector": det,
                   "title": f"{metric} at {src.id} ({src.district})", "change": change,
                   "first_seen": t, "last_seen": t, "updated_at": t, "user_name": user,
                   "reason": None, "note": None, "record": json.dumps(record)}
            made += 1


def seed_alert_versions(store: Store, n: int, *, seed: int = 0, start: float = 1.7e9,
                        span_s: float = 365 * 86400.0, chunk: int = 20_000) -> int:
    """Write ``n`` synthetic alert versions (episodes of 3 or 4 versions: opened, updated,
    maybe acknowledged, resolved) spread over ``span_s`` seconds from ``start``, in chunks of
    ``chunk`` rows per transaction; returns ``n``. Deterministic for a ``seed``. The rows are
    cheap stand-ins (their ``record`` holds only the main fields), made for measuring
    queries, not for decoding as :class:`~ioc.events.Alert`."""
    buf: list[dict[str, Any]] = []
    written = 0
    for row in _rows(n, seed, start, span_s):
        buf.append(row)
        if len(buf) >= chunk:
            _insert(store, schema.alert_versions, buf)
            written += len(buf)
            buf = []
    _insert(store, schema.alert_versions, buf)
    return written + len(buf)
