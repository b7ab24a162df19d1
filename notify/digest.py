"""The daily digest for leadership: yesterday's figures per service group and district, from
the archive's report (:func:`archive.report.build_report`), by email at the configured hour
(Da Nang). Its rows' idempotency keys name the day, so a day's digest is planned once
whatever restarts.

>>> r = {"period": {"label": "day 2026-12-04"}, "totals": {"opened": 3, "acknowledged": 2,
...      "resolved": 1, "mtta_s": 90.0, "mttr_s": 3600.0, "incidents": 1},
...      "groups": [{"group": "flooding", "name": "Flooding", "opened": 3, "acknowledged": 2,
...                  "resolved": 1, "mtta_s": 90.0, "mttr_s": 3600.0}],
...      "districts": [{"district": "Hai Chau", "opened": 3, "acknowledged": 2,
...                     "resolved": 1, "mtta_s": 90.0, "mttr_s": 3600.0}]}
>>> print(render(r, "en", "http://wall")["text"].splitlines()[2])
City: 3 opened, 2 acknowledged, 1 resolved, 1 incidents, MTTA 90 s, MTTR 60.0 min
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from archive.periods import period
from archive.report import build_report, duration
from archive.store import Store
from notify.config import Config
from notify.items import DA_NANG
from notify.outbox import idempotency_key, insert_rows
from notify.people import Contact, expand

__all__ = ["DailyDigest", "due_day", "plan_digest", "render"]

HEAD = {"en": ("Daily digest", "City", "opened", "acknowledged", "resolved", "incidents",
               "Per group", "Per district", "Open the reports"),
        "vi": ("Báo cáo hằng ngày", "Toàn thành phố", "mở", "đã xác nhận", "đã xử lý",
               "sự cố", "Theo nhóm dịch vụ", "Theo quận", "Mở trang báo cáo")}


def due_day(now: float, hour: int) -> str | None:
    """Yesterday's date (Da Nang) once today's digest hour has come, else None.

    >>> due_day(1795410000.0, 7), due_day(1795410000.0, 13)   # 12:00 on 2026-11-23
    ('2026-11-22', None)
    """
    local = datetime.fromtimestamp(now, DA_NANG)
    if local.hour < hour:
        return None
    return (local.date() - timedelta(days=1)).isoformat()


def _line(f: Mapping[str, Any], words: tuple[str, ...]) -> str:
    return (f"{f['opened']} {words[2]}, {f['acknowledged']} {words[3]}, {f['resolved']} "
            f"{words[4]}" + (f", {f['incidents']} {words[5]}" if "incidents" in f and
                             f.get("name") is None and f.get("district") is None else "")
            + f", MTTA {duration(f['mtta_s'])}, MTTR {duration(f['mttr_s'])}")


def render(report: Mapping[str, Any], lang: str, wall_url: str) -> dict[str, str]:
    """``subject``, ``text`` and ``html`` of the digest of ``report``."""
    w = HEAD[lang]
    label = report["period"]["label"]
    groups = [g for g in report["groups"] if g["opened"]]
    districts = [d for d in report["districts"] if d["opened"]]
    lines = [f"{w[0]}: {label}", "", f"{w[1]}: {_line(report['totals'], w)}", "", w[6] + ":"]
    lines += [f"  {g['name']}: {_line(g, w)}" for g in groups] or ["  -"]
    lines += ["", w[7] + ":"]
    lines += [f"  {d['district']}: {_line(d, w)}" for d in districts] or ["  -"]
    link = f"{wall_url}/reports"
    lines += ["", f"{w[8]}: {link}"]

    def rows(items: list[Mapping[str, Any]], key: str) -> str:
        return "".join(f"<tr><th align='left'>{html.escape(str(x[key]))}</th>"
                       f"<td>{html.escape(_line(x, w))}</td></tr>" for x in items)

    body = (f"<html lang=\"{lang}\"><body><h2>{html.escape(w[0])}: {html.escape(label)}</h2>"
            f"<p><b>{html.escape(w[1])}</b>: {html.escape(_line(report['totals'], w))}</p>"
            f"<h3>{html.escape(w[6])}</h3><table>{rows(groups, 'name')}</table>"
            f"<h3>{html.escape(w[7])}</h3><table>{rows(districts, 'district')}</table>"
            f"<p><a href=\"{html.escape(link)}\">{html.escape(w[8])}</a></p></body></html>")
    return {"subject": f"[IOC] {w[0]} {label}", "text": "\n".join(lines) + "\n", "html": body}


def plan_digest(store: Store, config: Config, contacts: Mapping[str, Contact], day: str, *,
                sla: Mapping[str, float], now: float) -> list[dict[str, Any]]:
    """The digest rows of ``day`` (one email per receiver with an address; an account's
    scope narrows its figures)."""
    assert config.digest is not None
    p = period("day", day)
    rows = []
    for name in config.digest.receivers:
        receiver = config.receivers[name]
        contact = contacts.get(receiver.account) if receiver.account else None
        x = expand(receiver, contact, severity="critical", district="", groups=[],
                   now=now, default_language=config.digest.language)
        scope = contact.scope if contact is not None else None
        for d in x.deliveries:
            if d.channel != "email":
                continue
            report = build_report(store, p, sla=sla, scope=scope)
            lang = receiver.language or (contact.language if contact else
                                         config.digest.language)
            rows.append({
                "key": idempotency_key("digest", day, name, "email"), "kind": "digest",
                "route": f"digest:{day}", "step": None, "alert_id": None, "receiver": name,
                "channel": "email", "address": d.address,
                "message": render(report, lang, config.wall_url), "status": "pending",
                "attempts": 0, "next_attempt_at": now, "claimed_until": 0.0,
                "created_at": now, "record_ts": now})
    return rows


class DailyDigest:
    """Plans ``config``'s digest once a day, at its hour: :meth:`plan_due` at every tick."""

    def __init__(self, store: Store, config: Config, *, sla: Mapping[str, float],
                 lock: threading.Lock) -> None:
        self.store, self.config, self.sla, self.lock = store, config, sla, lock
        self.done: str | None = None  # the day planned last

    def plan_due(self, contacts: Callable[[], Mapping[str, Contact]], now: float
                 ) -> tuple[str | None, int]:
        """The day planned at ``now`` (None: none due) and the rows added to the outbox."""
        digest = self.config.digest
        day = None if digest is None else due_day(now, digest.hour)
        if day is None or day == self.done:
            return None, 0
        rows = plan_digest(self.store, self.config, contacts(), day, sla=self.sla, now=now)
        with self.lock, self.store.engine.begin() as conn:
            added = insert_rows(self.store, conn, rows)
        self.done = day
        return day, added
