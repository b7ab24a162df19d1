"""The audit trail names people in the archive (SQLite and PostgreSQL): alert versions and
commands keep the login and display name they carried, and the reports give MTTA per
operation centre (the acknowledging accounts' scope, else the city IOC)."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from argon2 import PasswordHasher

from archive import schema
from archive.accounts import Accounts, parse_scope
from archive.periods import Period
from archive.records import Batch
from archive.report import build_report
from archive.report_formats import to_csv, to_html
from archive.store import Store
from ioc.events import Alert, Command, Evidence, encode

T0 = 1_795_366_800.0  # 2026-11-23 00:00 in Da Nang
PASSWORD = "correct horse battery staple"


def version(aid: str, v: int, change: str, t: float, user: str | None = None,
            name: str | None = None, district: str = "Hai Chau") -> Alert:
    detector, group, source, metric = aid.split(":")
    status = {"opened": "firing", "acknowledged": "acknowledged",
              "resolved": "resolved"}[change]
    ev = Evidence(window_start=t - 60, window_end=t, value=40.0, baseline=10.0, threshold=30.0,
                  score=0.95, raw=5.0, detector=detector, detector_version="2", params={},
                  recent=[])
    return Alert(alert_id=aid, version=v, status=status, severity="major",  # type: ignore[arg-type]
                 category="city", group=group, district=district, source=source, metric=metric,
                 detector=detector, title=f"{metric} at {source}", first_seen=T0 + 600,
                 last_seen=t, count=v, updated_at=t, change=change, evidence=ev, user=user,
                 display_name=name)


def write(store: Store, *records: Alert | Command) -> None:
    b = Batch()
    for n, rec in enumerate(records):
        kind = "commands" if isinstance(rec, Command) else "alerts"
        b.add(kind, f"ioc.{kind}", 0, n, encode(rec))
    assert not b.rejects
    store.write("archive", b, expected={})


def test_alert_versions_and_commands_keep_login_and_display_name(store: Store) -> None:
    aid = "robust_z:flooding:flood-LC-01:flood_depth"
    ack = Command(command_id="c1", action="ack", user="operator:mai", ts=T0 + 700,
                  alert_id=aid, reason="crew sent", display_name="Mai Pham")
    write(store, version(aid, 1, "opened", T0 + 600), ack,
          version(aid, 2, "acknowledged", T0 + 700, "operator:mai", "Mai Pham"),
          version(aid, 3, "resolved", T0 + 900, "operator", None))
    a, c = schema.alert_versions, schema.commands
    with store.connect() as conn:
        rows = conn.execute(sa.select(a.c.version, a.c.user_name, a.c.login, a.c.display_name)
                            .order_by(a.c.version)).all()
        cmd = conn.execute(sa.select(c.c.user_name, c.c.login, c.c.display_name)).one()
    assert [tuple(r) for r in rows] == [
        (1, None, None, None),                       # the sensors opened it: no one
        (2, "operator:mai", "mai", "Mai Pham"),
        (3, "operator", None, None)]                 # a shared token names a role only
    assert tuple(cmd) == ("operator:mai", "mai", "Mai Pham")


def test_reports_give_mtta_per_operation_centre(store: Store) -> None:
    accounts = Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8192))
    accounts.add("mai", PASSWORD, display_name="Mai Pham",
                 scope=parse_scope("Lien Chieu", ""))
    accounts.add("lan", PASSWORD, display_name="Lan Nguyen")
    records: list[Alert] = []
    acks = [("flood-LC-01", "operator:mai", 60.0), ("flood-LC-02", "operator:mai", 180.0),
            ("flood-HC-01", "operator:lan", 300.0), ("flood-HC-02", "operator", 500.0),
            ("flood-HC-03", "operator:nobody", 700.0)]
    for source, user, after in acks:
        aid = f"robust_z:flooding:{source}:flood_depth"
        records += [version(aid, 1, "opened", T0 + 600),
                    version(aid, 2, "acknowledged", T0 + 600 + after, user, "someone")]
    records.append(version("robust_z:flooding:flood-HC-04:flood_depth", 1, "opened", T0 + 600))
    write(store, *records)
    report = build_report(store, Period("day", T0, T0 + 86400), sla={"major": 900.0})
    assert report["centres"] == [
        {"centre": "city IOC", "acknowledged": 3, "people": 1, "mtta_s": 500.0},
        {"centre": "Lien Chieu", "acknowledged": 2, "people": 1, "mtta_s": 120.0}]
    got = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [(r["name"], r["acknowledged"], r["mtta_s"]) for r in got
            if r["kind"] == "centre"] == [("city IOC", "3", "500.0"), ("Lien Chieu", "2", "120.0")]
    assert "Operation centres" in to_html(report) and "Lien Chieu" in to_html(report)
