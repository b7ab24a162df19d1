"""Leadership reports: a period's figures per service group and per district, from the archive.

A **period** is a Da Nang (UTC+7) day, ISO week (Monday first), month or quarter holding a
date, or a custom span of days (:func:`period`). Its figures (:func:`build_report`), city-wide,
per group and per district:

* alerts *opened* in the period (episodes, see :mod:`archive.queries`), by severity at opening;
* incidents opened (per group: the incidents the group took part in);
* acknowledged and resolved episodes, **MTTA** (opening -> first ack) and **MTTR** (opening ->
  resolution) in seconds, with the same figures for the previous period of the same length and
  the trend in percent;
* per severity, the share acknowledged within the SLA (``IOC_ACK_SLA_S``) of the episodes
  opened (an episode never acknowledged counts as outside);
* the noisiest sources and detectors (most episodes opened);
* each group's KPIs from the roll-ups: hourly points for periods up to 14 days, daily beyond;
  per point the districts' means combined as the wall combines them (sum, max or mean).

The same report renders as JSON (:func:`to_json`, also ``/api/reports``), CSV (:func:`to_csv`)
and a printable HTML page (:func:`to_html`).

This module is the front; the work is done in :mod:`archive.periods` (the periods),
:mod:`archive.report_figures` (the figures) and :mod:`archive.report_formats` (the renderings).

>>> p = period("week", "2026-12-02")
>>> p.label, p.resolution, p.previous().label
('week 2026-11-30 to 2026-12-06', 'h', 'week 2026-11-23 to 2026-11-29')
>>> period("custom", "2026-12-01", "2026-11-01")
Traceback (most recent call last):
...
ioc.errors.UsageError: --to: 2026-11-01 is before --from 2026-12-01
"""

from __future__ import annotations

from archive.periods import DA_NANG as DA_NANG
from archive.periods import HOURLY_UP_TO_DAYS as HOURLY_UP_TO_DAYS
from archive.periods import KINDS, Period, period
from archive.periods import MAX_DAYS as MAX_DAYS
from archive.report_figures import SEVERITY_ORDER as SEVERITY_ORDER
from archive.report_figures import TOP as TOP
from archive.report_figures import build_report, check_filters, district_trends, kpi_trends
from archive.report_formats import CSV_COLUMNS as CSV_COLUMNS
from archive.report_formats import duration, sparkline, to_csv, to_html, to_json

__all__ = ["KINDS", "Period", "build_report", "check_filters", "district_trends", "duration",
           "kpi_trends", "period",
           "sparkline", "to_csv", "to_html", "to_json"]
