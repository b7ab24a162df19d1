"""Alert titles in operators' words: one line for a wall display, in the catalog's units.

>>> label("pm25"), label("flood_depth")
('PM2.5', 'Flood depth')
>>> number(34.0), number(5.25), number(0.35), number(1250.0), number(-0.001), number(float("nan"))
('34', '5.25', '0.35', '1,250', '0', '?')
>>> with_unit(34.0, "cm"), with_unit(12.5, "%")
('34 cm', '12.5%')
"""

from __future__ import annotations

import math

from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import Evidence

__all__ = ["label", "number", "title_for", "with_unit"]

_LABELS = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO2", "o3": "O3", "aqi": "AQI",
           "ph": "pH", "cod": "COD", "tss": "TSS", "cpi": "CPI", "effluent_cod": "Effluent COD"}


def label(metric: str) -> str:
    """A metric's name as an operator reads it."""
    return _LABELS.get(metric) or metric.replace("_", " ").capitalize()


def number(x: float) -> str:
    """A number as a person reads it on a wall: 34, 5.2, 0.35, 1,250 (``?`` if not finite)."""
    if not (isinstance(x, int | float) and math.isfinite(x)):
        return "?"
    ax = abs(x)
    text = f"{x:,.0f}" if ax >= 100 else f"{x:.1f}" if ax >= 10 else f"{x:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def with_unit(x: float, unit: str) -> str:
    """A number with its unit (``%`` sticks to the number)."""
    return f"{number(x)}%" if unit == "%" else f"{number(x)} {unit}".rstrip()


def _spec(group: str, metric: str) -> catalog.MetricSpec | None:
    try:
        return catalog.group(group).metric(metric)
    except ValidationError:
        return None


def title_for(*, group: str, district: str, source: str, metric: str, ev: Evidence) -> str:
    """A one-line title for a wall display, in the catalog's units.

    >>> ev = Evidence(window_start=0, window_end=300, value=42.0, baseline=8.0, threshold=None,
    ...               score=0.99, raw=9.1, detector="count_surge", detector_version="1",
    ...               params={}, recent=[])
    >>> title_for(group="citizen_feedback", district="Hai Chau", source="cf-HC-01",
    ...           metric="tickets_opened", ev=ev)
    'Tickets opened: 42 in 5 min at cf-HC-01 (Hai Chau), 5.2x the expected 8'
    """
    spec = _spec(group, metric)
    unit = spec.unit if spec is not None and not spec.counted else ""
    name, det = label(metric), ev.detector
    where = f"at {source} ({district})"
    value, base = ev.value, ev.baseline
    if det == catalog.SILENCE:
        return f"No data from {source} ({district}): {name.lower()} silent"
    if det == catalog.STUCK:
        return f"{name} stuck at {with_unit(value, unit)} {where}"
    if spec is not None and spec.counted:
        minutes = max(1, round((ev.window_end - ev.window_start) / 60))
        head = f"{name}: {number(value)} in {minutes} min {where}"
    else:
        head = f"{name} {with_unit(value, unit)} {where}"
    if det == catalog.PHYSICAL_RANGE and spec is not None:
        lo, hi = spec.physical
        return f"{head}, outside the sensor's range {number(lo)}-{with_unit(hi, unit)}"
    direction = "above" if value >= base else "below"
    if det == catalog.THRESHOLD and spec is not None:
        if spec.breach_above is not None and value > spec.breach_above:
            return f"{head}, over the {with_unit(spec.breach_above, unit)} limit"
        if spec.breach_below is not None and value < spec.breach_below:
            return f"{head}, under the {with_unit(spec.breach_below, unit)} limit"
    if det.startswith("robust_z") or det in ("zscore", "z"):
        return f"{head}, {abs(ev.raw):.1f}σ {direction} baseline {with_unit(base, unit)}"
    if spec is not None and spec.counted and base > 0:
        return f"{head}, {value / base:.1f}x the expected {number(base)}"
    return f"{head}, {direction} baseline {with_unit(base, unit)} ({det} {ev.score:.2f})"
