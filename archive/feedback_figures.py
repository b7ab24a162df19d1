"""Pure figures of detector feedback: measured precision from operators' labels, and a shadow
detector against the live ones on the same period.

**Precision.** A label says whether an alert was worth raising: ``real`` is right,
``false_alarm`` wrong, ``sensor_fault`` right for a sensor-health alert and wrong for a city
one (the sensor, not the city, was at fault), ``planned`` (works, a drill) neither: it is
counted but left out of the precision.

>>> rows = [{"detector": "robust_z", "group_slug": "flooding", "metric": "rainfall",
...          "category": "city", "label": lab, "first_seen": 86400.0 * 3}
...         for lab in ("real", "real", "false_alarm", "planned")]
>>> (r,) = precision_table(rows, by="all")
>>> r["labelled"], r["real"], r["false_alarm"], r["planned"], r["precision"]
(4, 2, 1, 1, 0.6667)

**Shadow report.** A shadow detector's windows of one series merge into episodes (windows
no more than one window apart); the live episodes are those of the other detectors on the
metrics the shadow detector ran on. Overlap: the share of one side's episodes that meet an
episode of the other side on the same series (within one window); lead time: the live
start minus the shadow start of each overlapping pair (positive: the shadow detector spoke
first); labelled precision: the labels of the live episodes a shadow episode overlaps.

>>> shadow = [{"alert_id": "ewma:f:s1:m", "detector": "ewma", "group_slug": "f",
...            "source": "s1", "metric": "m", "window_start": t - 60.0, "window_end": t}
...           for t in (600.0, 660.0, 5000.0)]
>>> live = [{"alert_id": "robust_z:f:s1:m", "detector": "robust_z", "group_slug": "f",
...          "source": "s1", "metric": "m", "start": 720.0, "end": 900.0}]
>>> rep = shadow_report(shadow, live, [], detector="ewma", span_s=86400.0)
>>> rep["shadow"]["episodes"], rep["shadow"]["overlap"], rep["live"]["overlap"], rep["lead_s"]
(2, 0.5, 1.0, 180.0)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ioc.truth import Anomaly

__all__ = ["correct", "judged_episodes", "labels_as_truth", "period_of", "precision_table",
           "shadow_episodes", "shadow_report"]

Row = Mapping[str, Any]
LOCAL_OFFSET_S = 7 * 3600  # Da Nang days and weeks


def correct(label: str, category: str) -> bool | None:
    """Whether a label says the alert was right (None: ``planned``, left out).

    >>> correct("sensor_fault", "sensor_health"), correct("sensor_fault", "city")
    (True, False)
    """
    if label == "planned":
        return None
    return label == "real" or (label == "sensor_fault" and category == "sensor_health")


def period_of(ts: float, by: str) -> str:
    """The Da Nang day (``2026-12-05``), ISO week (``2026-W49``) or ``all`` holding ``ts``.

    >>> period_of(1796400000.0, "day"), period_of(1796400000.0, "week")
    ('2026-12-04', '2026-W49')
    """
    import datetime as dt

    if by == "all":
        return "all"
    d = dt.datetime.fromtimestamp(ts + LOCAL_OFFSET_S, tz=dt.UTC).date()
    if by == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    return d.isoformat()


def _precision(right: int, wrong: int) -> float | None:
    return round(right / (right + wrong), 4) if right + wrong else None


def precision_table(labels: Iterable[Row], *, by: str = "week") -> list[dict[str, Any]]:
    """Per (period, detector, group, metric): labelled alerts, each label's count, precision."""
    cells: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in labels:
        key = (period_of(float(r["first_seen"]), by), r["detector"], r["group_slug"],
               r["metric"])
        c = cells.setdefault(key, {"period": key[0], "detector": key[1], "group": key[2],
                                   "metric": key[3], "labelled": 0, "real": 0,
                                   "false_alarm": 0, "sensor_fault": 0, "planned": 0,
                                   "right": 0, "wrong": 0})
        c["labelled"] += 1
        c[r["label"]] = c.get(r["label"], 0) + 1
        ok = correct(r["label"], r["category"])
        if ok is not None:
            c["right" if ok else "wrong"] += 1
    out = []
    for key in sorted(cells):
        c = cells[key]
        c["precision"] = _precision(c.pop("right"), c.pop("wrong"))
        out.append(c)
    return out


def shadow_episodes(windows: Sequence[Row]) -> list[dict[str, Any]]:
    """A shadow detector's windows merged into episodes per series (gap <= one window)."""
    by_series: dict[str, list[Row]] = defaultdict(list)
    for w in windows:
        by_series[w["alert_id"]].append(w)
    out: list[dict[str, Any]] = []
    for ws in by_series.values():
        ws = sorted(ws, key=lambda w: w["window_end"])
        cur: dict[str, Any] | None = None
        for w in ws:
            size = w["window_end"] - w["window_start"]
            if cur is not None and w["window_start"] - cur["end"] <= size:
                cur["end"] = w["window_end"]
                continue
            cur = {"alert_id": w["alert_id"], "detector": w["detector"],
                   "group_slug": w["group_slug"], "source": w["source"], "metric": w["metric"],
                   "start": w["window_start"], "end": w["window_end"], "window": size}
            out.append(cur)
    return sorted(out, key=lambda e: e["start"])


def _meets(a: Row, b: Row, slack: float) -> bool:
    return (a["group_slug"], a["source"], a["metric"]) == (
        b["group_slug"], b["source"], b["metric"]) and (
        a["start"] <= b["end"] + slack and b["start"] <= a["end"] + slack)


def shadow_report(windows: Sequence[Row], live: Sequence[Row], labels: Sequence[Row], *,
                  detector: str, span_s: float) -> dict[str, Any]:
    """Shadow detector ``detector`` against the live detectors over ``span_s`` seconds."""
    shadow = shadow_episodes([w for w in windows if w["detector"] == detector])
    metrics = {(e["group_slug"], e["metric"]) for e in shadow}
    live = [e for e in live if e["detector"] != detector
            and (e["group_slug"], e["metric"]) in metrics]
    verdict = {(r["alert_id"], r["first_seen"]): correct(r["label"], r["category"])
               for r in labels}
    slack = max((e["window"] for e in shadow), default=60.0)
    leads: list[float] = []
    shadow_hit = 0
    s_right = s_wrong = 0
    for s in shadow:
        met = [e for e in live if _meets(s, e, slack)]
        shadow_hit += bool(met)
        leads += [e["start"] - s["start"] for e in met]
        oks = [verdict.get((e["alert_id"], e["start"])) for e in met]
        known = [ok for ok in oks if ok is not None]
        if known:
            s_right, s_wrong = s_right + any(known), s_wrong + (not any(known))
    live_hit = sum(any(_meets(s, e, slack) for s in shadow) for e in live)
    l_oks = [verdict.get((e["alert_id"], e["start"])) for e in live]
    days = span_s / 86400.0 if span_s > 0 else float("nan")

    def side(n: int, hit: int, right: int, wrong: int) -> dict[str, Any]:
        return {"episodes": n, "per_day": round(n / days, 2) if days == days else None,
                "overlap": round(hit / n, 4) if n else None, "labelled": right + wrong,
                "precision": _precision(right, wrong)}

    return {"detector": detector, "metrics": sorted(f"{g}/{m}" for g, m in metrics),
            "span_s": span_s,
            "shadow": side(len(shadow), shadow_hit, s_right, s_wrong),
            "live": side(len(live), live_hit, sum(ok is True for ok in l_oks),
                         sum(ok is False for ok in l_oks)),
            "lead_s": statistics.median(leads) if leads else None}


def labels_as_truth(labels: Iterable[Row]) -> list[Anomaly]:
    """Ground truth from operators' labels, for ``ioc detectors backtest --labels``: each
    episode labelled right (``real``, or ``sensor_fault`` on a sensor-health alert) is an
    anomaly of kind ``labelled`` over its episode (from one window before its first window
    ends to its last); alarms labelled wrong add nothing here (see :func:`judged_episodes`).

    >>> rows = [{"group_slug": "flooding", "source": "rain-HC-01", "metric": "rainfall",
    ...          "category": "city", "label": lab, "first_seen": 600.0, "last_seen": 900.0,
    ...          "district": "Hai Chau"} for lab in ("real", "false_alarm")]
    >>> [(a.kind, a.start, a.end) for a in labels_as_truth(rows)]
    [('labelled', 540.0, 900.0)]
    """
    return [_episode(r, "labelled") for r in labels if correct(r["label"], r["category"])]


def judged_episodes(labels: Iterable[Row]) -> list[Anomaly]:
    """Every episode an operator judged right or wrong (``planned`` is neither): a backtest
    counts an alert in its precision only when it meets one of them, since an alert on an
    episode nobody labelled is neither right nor wrong (as in :func:`precision_table`).

    >>> rows = [{"group_slug": "flooding", "source": "rain-HC-01", "metric": "rainfall",
    ...          "category": "city", "label": lab, "first_seen": 600.0, "last_seen": 900.0,
    ...          "district": "Hai Chau"} for lab in ("real", "false_alarm", "planned")]
    >>> [a.kind for a in judged_episodes(rows)]
    ['judged', 'judged']
    """
    return [_episode(r, "judged") for r in labels
            if correct(r["label"], r["category"]) is not None]


def _episode(r: Row, kind: str) -> Anomaly:
    """A labelled alert's episode as an anomaly of ``kind``: from one window of its group
    before its first window ends, to its last."""
    from ioc import catalog

    g = catalog.GROUPS.get(r["group_slug"])
    window = float(g.window_s) if g is not None else 60.0
    return Anomaly(r["group_slug"], r["source"], r["metric"], kind,
                   float(r["first_seen"]) - window, float(r["last_seen"]), r["district"])
