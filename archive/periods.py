"""Report periods: a Da Nang (UTC+7) day, ISO week (Monday first), month or quarter holding a
date, or a custom span of days, with the period of the same length just before.

>>> p = period("week", "2026-12-02")
>>> p.label, p.resolution, p.previous().label
('week 2026-11-30 to 2026-12-06', 'h', 'week 2026-11-23 to 2026-11-29')
>>> period("custom", "2026-12-01", "2026-11-01")
Traceback (most recent call last):
...
ioc.errors.UsageError: --to: 2026-11-01 is before --from 2026-12-01
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ioc.errors import UsageError

__all__ = ["DA_NANG", "HOURLY_UP_TO_DAYS", "KINDS", "MAX_DAYS", "Period", "period"]

DA_NANG = timezone(timedelta(hours=7), "ICT")
KINDS = ("day", "week", "month", "quarter", "custom")
MAX_DAYS = 400
HOURLY_UP_TO_DAYS = 14


@dataclass(frozen=True)
class Period:
    """``start`` <= t < ``end`` (epoch seconds), a ``kind`` of :data:`KINDS`."""

    kind: str
    start: float
    end: float

    @property
    def days(self) -> float:
        return (self.end - self.start) / 86400.0

    @property
    def resolution(self) -> str:
        """``h`` (hourly roll-ups) up to 14 days, ``d`` (daily) beyond."""
        return "h" if self.days <= HOURLY_UP_TO_DAYS else "d"

    @property
    def first_day(self) -> date:
        return datetime.fromtimestamp(self.start, DA_NANG).date()

    @property
    def last_day(self) -> date:
        return datetime.fromtimestamp(self.end - 1, DA_NANG).date()

    @property
    def label(self) -> str:
        a, b = self.first_day.isoformat(), self.last_day.isoformat()
        return f"{self.kind} {a}" if a == b else f"{self.kind} {a} to {b}"

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.kind, 2 * self.start - self.end, self.start)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "from": self.first_day.isoformat(),
                "to": self.last_day.isoformat(), "start": self.start, "end": self.end,
                "label": self.label, "resolution": self.resolution}


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise UsageError(f"{option}: expected a date YYYY-MM-DD (Da Nang), got {text!r}"
                         ) from None


def _at(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=DA_NANG).timestamp()


def period(kind: str, start: str, end: str | None = None) -> Period:
    """The period of ``kind`` holding the date ``start`` (``custom``: the days ``start`` to
    ``end``, both included). Bad input is a :class:`~ioc.errors.UsageError` naming the
    option (``--period``, ``--from``, ``--to``)."""
    if kind not in KINDS:
        raise UsageError(f"--period: must be one of {', '.join(KINDS)}, got {kind!r}")
    first = _day(start, "--from")
    if kind == "custom":
        if not end:
            raise UsageError("--to: a custom period needs --to (the last day, included)")
        last = _day(end, "--to")
        if last < first:
            raise UsageError(f"--to: {last} is before --from {first}")
        if (last - first).days + 1 > MAX_DAYS:
            raise UsageError(f"--to: a report covers at most {MAX_DAYS} days")
        return Period(kind, _at(first), _at(last + timedelta(days=1)))
    if end:
        raise UsageError(f"--to: only for a custom period (a {kind} is fixed by --from)")
    if kind == "day":
        a, b = first, first + timedelta(days=1)
    elif kind == "week":
        a = first - timedelta(days=first.weekday())
        b = a + timedelta(days=7)
    else:
        months = 1 if kind == "month" else 3
        m0 = first.month - 1 if kind == "month" else (first.month - 1) // 3 * 3
        a = date(first.year, m0 + 1, 1)
        y, m = divmod(m0 + months, 12)
        b = date(first.year + y, m + 1, 1)
    return Period(kind, _at(a), _at(b))
