"""Alert titles in operators' words: what happened and where, one line for a wall display, in
the catalog's units. The detector, its score and parameters stay in the evidence (the detail
engineers open), never in the title.

:func:`title_parts` gives the title as a message key of the catalogs (:mod:`ioc.i18n`) and its
parameters, which an alert carries (``Alert.title_parts``) so each page writes it in its
reader's language; :func:`title_for` is its English, the plain ``title`` older clients and the
command line read.

A multivariate model's alert (``isolation_forest``, metric ``combined`` of a source or
``indicators`` of a group in a district) names the metric that made it fire (its evidence's
``cause``) with its value, its usual value and which way it moved, and how many more metrics
explain it: "Unusual mix at air station 01, Hai Chau: PM2.5 high at 31 µg/m³ (usually
12 µg/m³) and 1 more"; the isolation score stays in the evidence.

>>> label("pm25"), label("flood_depth")
('PM2.5', 'Flood depth')
>>> number(34.0), number(5.25), number(0.35), number(1250.0), number(-0.001), number(float("nan"))
('34', '5.25', '0.35', '1,250', '0', '?')
>>> with_unit(34.0, "cm"), with_unit(12.5, "%")
('34 cm', '12.5%')
"""

from __future__ import annotations

import math
from typing import Any

from ioc import catalog, i18n
from ioc.errors import ValidationError
from ioc.events import Evidence
from streams.mvconfig import INDICATORS

__all__ = ["label", "mix_parts", "number", "title_for", "title_parts", "with_unit"]


def label(metric: str) -> str:
    """A metric's name as an operator reads it (English)."""
    return i18n.messages("en").get(f"metric.{metric}") or metric.replace("_", " ").capitalize()


def number(x: float) -> str:
    """A number as a person reads it on a wall: 34, 5.2, 0.35, 1,250 (``?`` if not finite)."""
    return i18n.number(x, "en")


def with_unit(x: float, unit: str) -> str:
    """A number with its unit (``%`` sticks to the number)."""
    return f"{number(x)}%" if unit == "%" else f"{number(x)} {unit}".rstrip()


def _spec(group: str, metric: str) -> catalog.MetricSpec | None:
    try:
        return catalog.group(group).metric(metric)
    except ValidationError:
        return None


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _above(ev: Evidence) -> bool:
    """Whether the value shown was above its baseline (so the words match the numbers: a CUSUM
    drifting up may fire on a window below it); the evidence's side when they are equal or
    not known."""
    if _finite(ev.value) and _finite(ev.baseline) and ev.value != ev.baseline:
        return ev.value > ev.baseline
    return getattr(ev, "side", None) != "low"


def _feature(group: str, metric: str, feature: str) -> tuple[str, str]:
    """The name a title gives a multivariate feature (a metric, or ``<group>.<kpi>`` for a
    KPI of a group's indicators: :mod:`ioc.i18n` names both) and its unit."""
    if metric == INDICATORS:
        kpi = next((k for k in catalog.group(group).kpis if k.name == feature), None)
        return (f"{group}.{feature}", kpi.unit) if kpi is not None else (feature, "")
    spec = _spec(group, feature)
    return feature, spec.unit if spec is not None and not spec.counted else ""


def mix_parts(*, group: str, district: str, source: str, metric: str,
              ev: Evidence) -> dict[str, Any] | None:
    """The title of a multivariate alert whose evidence names its ``cause`` (else None).

    >>> ev = Evidence(window_start=0, window_end=60, value=31.0, baseline=12.0, threshold=0.75,
    ...               score=0.99, raw=0.8, detector="isolation_forest", detector_version="1",
    ...               params={}, recent=[], detail={"cause": "pm25",
    ...                                             "top_metrics": "pm25,pm10"})
    >>> p = mix_parts(group="environment", district="Hai Chau", source="air-HC-01",
    ...               metric="combined", ev=ev)
    >>> p["key"], p["params"]["metric"], p["params"]["usual"], p["params"]["more"]
    ('title.mix_high_more', 'pm25', 12.0, 1)
    >>> i18n.render("en", p["key"], p["params"])
    'Unusual mix at air station 01, Hai Chau: PM2.5 high at 31 µg/m³ (usually 12 µg/m³) and 1 more'
    """
    cause = ev.detail.get("cause")
    if ev.detector != catalog.ISOLATION_FOREST or not isinstance(cause, str):
        return None
    name, unit = _feature(group, metric, cause)
    named = [f for f in str(ev.detail.get("top_metrics", "")).split(",") if f and f != cause]
    params: dict[str, Any] = {"metric": name, "source": source, "district": district,
                              "value": ev.value, "usual": ev.baseline, "unit": unit}
    kind = "indicators" if metric == INDICATORS else "mix"
    if kind == "indicators":
        params["group"] = group
    if named:
        params["more"] = len(named)
    way = "high" if _above(ev) else "low"
    return {"key": f"title.{kind}_{way}{'_more' if named else ''}", "params": params}


def title_parts(*, group: str, district: str, source: str, metric: str,
                ev: Evidence) -> dict[str, Any]:
    """The title as ``{"key": ..., "params": {...}}`` of the message catalogs.

    >>> ev = Evidence(window_start=0, window_end=300, value=34.0, baseline=2.0, threshold=4.0,
    ...               score=0.99, raw=9.1, detector="robust_z", detector_version="1",
    ...               params={}, recent=[])
    >>> p = title_parts(group="flooding", district="Hai Chau", source="flood-HC-01",
    ...                 metric="flood_depth", ev=ev)
    >>> p["key"], p["params"]["low"], p["params"]["high"]
    ('title.above_normal', 0.0, 8.0)
    """
    mix = mix_parts(group=group, district=district, source=source, metric=metric, ev=ev)
    if mix is not None:
        return mix
    spec = _spec(group, metric)
    unit = spec.unit if spec is not None and not spec.counted else ""
    base: dict[str, Any] = {"metric": metric, "source": source, "district": district,
                            "value": ev.value, "unit": unit}
    det, value = ev.detector, ev.value

    def parts(key: str, **more: Any) -> dict[str, Any]:
        return {"key": f"title.{key}", "params": {**base, **more}}

    if det == catalog.SILENCE:
        return {"key": "title.silent", "params": {"metric": metric, "source": source,
                                                  "district": district}}
    if det == catalog.STUCK:
        return parts("stuck")
    if det == catalog.PHYSICAL_RANGE and spec is not None:
        return parts("range", low=spec.physical[0], high=spec.physical[1])
    if det == catalog.THRESHOLD and spec is not None:
        if spec.breach_above is not None and value > spec.breach_above:
            return parts("over_limit", limit=spec.breach_above)
        if spec.breach_below is not None and value < spec.breach_below:
            return parts("under_limit", limit=spec.breach_below)
    above = _above(ev)
    if spec is not None and spec.counted:
        minutes = max(1, round((ev.window_end - ev.window_start) / 60))
        if above and ev.baseline > 0 and value >= 1.5 * ev.baseline:
            return parts("count_surge", minutes=minutes, ratio=round(value / ev.baseline, 1),
                         baseline=ev.baseline)
        return parts("count_above" if above else "count_below", minutes=minutes,
                     baseline=ev.baseline)
    if spec is not None:
        lo, hi = spec.normal
        if above and value > hi:
            return parts("above_normal", low=lo, high=hi)
        if not above and value < lo:
            return parts("below_normal", low=lo, high=hi)
    return parts("above_usual" if above else "below_usual", baseline=ev.baseline)


def title_for(*, group: str, district: str, source: str, metric: str, ev: Evidence) -> str:
    """The title in English (the plain ``title`` of an alert).

    >>> ev = Evidence(window_start=0, window_end=300, value=42.0, baseline=8.0, threshold=None,
    ...               score=0.99, raw=9.1, detector="count_surge", detector_version="1",
    ...               params={}, recent=[])
    >>> title_for(group="citizen_feedback", district="Hai Chau", source="cf-HC-01",
    ...           metric="tickets_opened", ev=ev)
    'Tickets opened: 42 in 5 min at intake channel 01, Hai Chau, 5.2× the expected 8'
    """
    p = title_parts(group=group, district=district, source=source, metric=metric, ev=ev)
    return i18n.render("en", p["key"], p["params"])
