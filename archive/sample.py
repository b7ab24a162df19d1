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

__all__ = ["add_alert_versions", "add_command", "sample_day", "seed_alert_versions"]

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
        opened = t
        for change, status, user in steps:
            if made >= n:
                return
            t += rng.random() * 600
            opened = t if change == "opened" else opened
            v = versions[aid] = versions.get(aid, 0) + 1
            record = {"type": "alert", "alert_id": aid, "version": v, "status": status,
                      "severity": sev, "change": change, "user": user, "notes": []}
            yield {"alert_id": aid, "version": v, "status": status, "severity": sev,
                   "category": "city", "group_slug": g.slug, "district": src.district,
                   "source": src.id, "metric": metric, "detector": det,
                   "title": f"{metric} at {src.id} ({src.district})", "change": change,
                   "first_seen": opened, "last_seen": t, "updated_at": t, "user_name": user,
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


def sample_day(store: Store, t0: float) -> None:
    """A small day of history from ``t0`` (the start of a Da Nang day) and the day before,
    with known figures (the tests of reports and of their routes check them):

    * flooding, Hai Chau: a major alert opened at t0+1 h, acknowledged by ``operator:lan``
      10 min later, resolved 30 min after opening; a critical one opened at t0+2 h,
      acknowledged after 200 s, auto-resolved after 1,000 s;
    * traffic, Lien Chieu: a warning opened at t0+3 h, never acknowledged, still open;
    * the day before: the major flooding alert's earlier episode, acknowledged after 20 min,
      resolved after an hour;
    * an incident of flooding and traffic in Hai Chau at t0+2 h; flooding KPIs
      (``max_depth`` 30 in Hai Chau, 12 in Son Tra; ``flooded_points`` 2 and 1) at t0+1 h.
    """
    flood = "robust_z:flooding:flood-HC-01:flood_depth"
    add_alert_versions(store, flood, [
        ("opened", t0 - 86400 + 3600, None), ("acknowledged", t0 - 86400 + 4800, "operator"),
        ("resolved", t0 - 86400 + 7200, "operator"),
        ("opened", t0 + 3600, None), ("escalated", t0 + 3700, None),
        ("acknowledged", t0 + 4200, "operator:lan"), ("note", t0 + 4300, "operator:lan"),
        ("resolved", t0 + 5400, "operator:lan")], severity="major",
        notes=["crew at the pump"], title="Flood depth 34 cm at flood-HC-01 (Hai Chau)")
    add_command(store, command_id="ack-flood-1", action="ack", user="operator:lan",
                ts=t0 + 4199, alert_id=flood, reason="crew sent")
    add_alert_versions(store, "stuck:flooding:flood-HC-02:flood_depth", [
        ("opened", t0 + 7200, None), ("acknowledged", t0 + 7400, "operator"),
        ("auto_resolved", t0 + 8200, None)], severity="critical")
    add_alert_versions(store, "cusum:traffic:trf-LC-02:speed", [
        ("opened", t0 + 10800, None), ("updated", t0 + 10900, None)],
        severity="warning", district="Lien Chieu")
    from ioc.events import GroupIndicator, Incident

    b = Batch()
    b.add("alerts", "sample.alerts", 0, 0, encode(Incident(
        incident_id="inc:Hai Chau:1", version=1, status="open", district="Hai Chau",
        groups=["flooding", "traffic"], alert_ids=[flood], severity="critical",
        title="Flooding and traffic in Hai Chau", first_seen=t0 + 7300, last_seen=t0 + 7300,
        updated_at=t0 + 7300)))
    for n, (district, depth, points) in enumerate((("Hai Chau", 30.0, 2.0),
                                                   ("Son Tra", 12.0, 1.0))):
        b.add("indicators", "sample.indicators", 0, n + 1, encode(GroupIndicator(
            group="flooding", district=district, start=t0 + 3600, end=t0 + 3660,
            sources_reporting=5, sources_expected=6, sources_in_breach=int(points),
            open_alerts={}, kpis={"max_depth": depth, "flooded_points": points})))
    assert not b.rejects, b.rejects
    store.write(f"sample-{t0:.0f}", b, expected={})
