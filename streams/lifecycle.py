"""The alert lifecycle: detector verdicts and operator commands in, versioned alert records out.

Pure and synchronous (no Faust, no I/O): the worker's agents call :class:`AlertBook` and
publish what it returns on ``ioc.alerts`` (key: the alert's district). State lives in a
``MutableMapping[str, bytes]`` passed in: the worker passes a Faust table created with
``value_type=bytes, value_serializer="raw"`` (always re-assigned, never mutated in place), tests
pass a dict.

**Lanes.** Per (group, source, metric) the detectors form two lanes, ``city`` and
``sensor_health`` (detectors with ``health = True``). A lane holds at most one open alert: the
first detector that fires opens it (its name is in ``alert_id``; of several firing on the same
window, the highest score); other detectors of the lane that fire while it is open update it
(evidence, score, severity). Hysteresis counts the lane's windows in which no detector fired.
The store key is the lane key ``group:source:metric:category``; create the Faust table
without a ``default``.

**Lifecycle.** ``opened`` (status ``firing``) -> ``updated``/``escalated`` on each further firing
window -> ``acknowledged`` (stays visible, keeps updating) -> ``resolved`` (by an operator) or
``auto_resolved`` after ``resolve_after`` normal windows in a row (hysteresis). An alert that
fires again within ``flap_window_s`` of its resolution is ``reopened`` (same alert_id, count
and first_seen go on) and needs more normal windows to auto-resolve next time (flap damping: x2,
x3, ... up to ``1 + max_flap_boost``). Later, the same key ``opened`` a new episode under the
same alert_id with the next version. A matching silence turns an open alert ``silenced`` (its
updates are kept but not published) and ``unsilenced`` when it ends or is lifted (its status
goes back to what it would be without the silence: ``firing`` or ``acknowledged``, with the
updates it held). **A new firing on a silenced key is still recorded**: it opens (or reopens)
with status ``silenced``, so the audit trail shows every firing. ``note`` appends a
:class:`~ioc.events.Note`.

**Audit and restarts.** Every published change is an :class:`~ioc.events.Alert` with
``version`` = previous + 1 for its alert_id (versions go on across episodes). Every transition
is a pure function of (stored lane, input); a lane's clock only moves forward. An input the
lane has already applied (a window end a detector already reported, a command id already
applied) changes nothing and returns the lane's last published record again - identical
(alert_id, version, content) - so a worker restored from its changelog neither loses nor
forks a version. ``user`` and ``reason`` name the operator behind the record's status (the
acknowledging, silencing or resolving user; a note's author); automatic changes of a firing
alert carry ``user=None`` and a ``reason`` in words.

>>> book = AlertBook({}, resolve_after=2, flap_window_s=300.0)
>>> silences = SilenceBook({})
>>> def window(end, score, firing=True):
...     ev = Evidence(window_start=end - 60, window_end=end, value=34.0, baseline=2.0,
...                   threshold=4.0, score=score, raw=5.2, detector="robust_z",
...                   detector_version="1", params={"threshold": 4.0},
...                   recent=[2.0, 2.1, 34.0])
...     return book.observe(group="flooding", district="Hai Chau", source="flood-HC-01",
...                         metric="flood_depth", ts=end, silences=silences,
...                         verdicts=[Verdict(firing=firing, health=False, evidence=ev)])
>>> [(a.change, a.version, a.status, a.severity) for a in window(1795410060.0, 0.95)]
[('opened', 1, 'firing', 'warning')]
>>> window(1795410060.0, 0.95)[0].version   # the same window again: nothing new
1
>>> print(window(1795410120.0, 0.99)[0].title)
Flood depth 34 cm at flood-HC-01 (Hai Chau), 5.2σ above baseline 2 cm
>>> ack = Command(command_id="c1", action="ack", user="lan", ts=1795410130.0,
...               reason="crew sent", alert_id="robust_z:flooding:flood-HC-01:flood_depth")
>>> [(a.change, a.status, a.user, a.reason) for a in book.command(ack, now=1795410130.0,
...                                                              silences=silences)]
[('acknowledged', 'acknowledged', 'lan', 'crew sent')]
>>> window(1795410180.0, 0.0, firing=False)
[]
>>> [(a.change, a.version, a.status) for a in window(1795410240.0, 0.0, firing=False)]
[('auto_resolved', 4, 'resolved')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec.structs import replace

from ioc import catalog
from ioc.errors import ConfigError, ValidationError
from ioc.events import (
    SEVERITIES,
    Alert,
    Category,
    Command,
    Evidence,
    Note,
    Severity,
    alert_id,
    split_alert_id,
)
from streams.silences import SilenceBook, SilencePolicy

if TYPE_CHECKING:
    from detectors.base import Explanation
    from ioc.settings import Settings

__all__ = [
    "CITY",
    "HEALTH",
    "AlertBook",
    "EscalationPolicy",
    "Verdict",
    "evidence_from",
    "lane_key",
    "split_alert_id",
    "title_for",
]

CITY: Category = "city"
HEALTH: Category = "sensor_health"
LANES: tuple[Category, ...] = (CITY, HEALTH)
OPEN = frozenset({"firing", "acknowledged", "silenced"})
MAX_APPLIED = 64  # command ids remembered per lane (replay protection)


def _rank(s: str) -> int:
    return SEVERITIES.index(s)


def _sev(i: int) -> Severity:
    return SEVERITIES[max(0, min(i, len(SEVERITIES) - 1))]  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One detector's decision on one closed window: did its policy fire, and why.

    ``health`` is the detector class's ``health`` flag; ``evidence`` names the detector, its
    version and params, the window, score, baseline, threshold and recent values (build it
    with :func:`evidence_from`).
    """

    firing: bool
    health: bool
    evidence: Evidence

    @property
    def detector(self) -> str:
        return self.evidence.detector


@dataclass(frozen=True, kw_only=True)
class EscalationPolicy:
    """How severe an alert starts and how it grows while it keeps firing.

    A city alert starts from how far the detector's raw statistic is past the detector's own
    threshold (``|raw| / threshold``: ``major_ratio`` and ``critical_ratio``), or, when the
    evidence has no threshold, from the score in [0, 1] (``major_score``/``critical_score``;
    the house squash gives 0.9 at the threshold, 0.999 at 1.32x, 0.99999 at 1.5x). A sensor-
    health alert starts at ``health_start``. While still ``firing`` (not acknowledged, not
    silenced) it steps up one severity per ``escalate_after_s`` since ``first_seen`` (``inf``
    disables), never above ``city_max``/``health_max``. Severity never goes down while open.

    >>> p = EscalationPolicy(escalate_after_s=600.0)
    >>> ev = Evidence(window_start=0, window_end=60, value=40.0, baseline=2.0, threshold=4.0,
    ...               score=1.0, raw=7.0, detector="robust_z", detector_version="1",
    ...               params={}, recent=[])
    >>> p.initial(ev, health=False), p.initial(ev, health=True)
    ('major', 'warning')
    >>> p.escalated("warning", 1300.0, health=False), p.escalated("warning", 9e9, health=True)
    ('critical', 'major')
    """

    major_ratio: float = 1.5
    critical_ratio: float = 3.0
    major_score: float = 0.999
    critical_score: float = 0.99999
    escalate_after_s: float = 900.0
    city_start: Severity = "warning"
    city_max: Severity = "critical"
    health_start: Severity = "warning"
    health_max: Severity = "major"

    def __post_init__(self) -> None:
        if not 1.0 <= self.major_ratio <= self.critical_ratio:
            raise ConfigError(
                f"escalation: need 1 <= major_ratio <= critical_ratio, got "
                f"{self.major_ratio} and {self.critical_ratio}")
        if not 0.0 < self.major_score <= self.critical_score <= 1.0:
            raise ConfigError(
                f"escalation: need 0 < major_score <= critical_score <= 1, got "
                f"{self.major_score} and {self.critical_score}")
        if not self.escalate_after_s > 0:
            raise ConfigError(
                f"escalation: escalate_after_s must be > 0 (inf disables), got "
                f"{self.escalate_after_s}")
        for name in ("city_start", "city_max", "health_start", "health_max"):
            if getattr(self, name) not in SEVERITIES:
                raise ConfigError(f"escalation: {name} must be one of {', '.join(SEVERITIES)}")
        if _rank(self.city_start) > _rank(self.city_max) or (
                _rank(self.health_start) > _rank(self.health_max)):
            raise ConfigError("escalation: a start severity is above its maximum")

    def initial(self, ev: Evidence, *, health: bool) -> Severity:
        """The severity the evidence alone deserves."""
        if health:
            return self.health_start
        level = _rank(self.city_start)
        thr = ev.threshold
        if thr is not None and thr > 0 and math.isfinite(ev.raw) and abs(ev.raw) >= thr:
            ratio = abs(ev.raw) / thr
            step = 2 if ratio >= self.critical_ratio else 1 if ratio >= self.major_ratio else 0
        else:
            s = ev.score
            step = 2 if s >= self.critical_score else 1 if s >= self.major_score else 0
        return _sev(min(max(level, _rank("warning") + step), _rank(self.city_max)))

    def escalated(self, start: str, duration_s: float, *, health: bool) -> Severity:
        """``start`` stepped up once per ``escalate_after_s`` of ``duration_s``, capped."""
        cap = _rank(self.health_max if health else self.city_max)
        steps = 0
        if math.isfinite(self.escalate_after_s) and duration_s > 0:
            steps = int(duration_s // self.escalate_after_s)
        return _sev(min(_rank(start) + steps, max(cap, _rank(start))))


class _Lane(msgspec.Struct, kw_only=True):
    """What the book remembers per lane (msgpack bytes in the store)."""

    alert: Alert | None = None        # the current (or last) episode, latest state
    dirty: bool = False               # alert holds changes not published (while silenced)
    versions: dict[str, int] = {}     # last published version of every alert_id of the lane
    clock: float = -math.inf          # the lane's time: max input time, never goes back
    base: str = "warning"             # severity at open; duration escalation steps from it
    acked: bool = False
    ack_user: str | None = None
    ack_reason: str | None = None
    sil_user: str | None = None
    sil_reason: str | None = None
    sil_id: str | None = None         # the silence holding the alert
    resolved_at: float | None = None
    flaps: int = 0                    # re-openings within the flap window, this episode chain
    fired_end: float = -math.inf      # latest window end at which a lane detector fired
    normal: int = 0                   # normal windows in a row since then
    normal_end: float = -math.inf
    seen: dict[str, float] = {}       # detector -> latest window end applied
    applied: list[str] = []           # recent command ids applied

    @property
    def open(self) -> bool:
        return self.alert is not None and self.alert.status in OPEN


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_Lane)

Owns = Callable[[str], bool]


def lane_key(group: str, source: str, metric: str, category: str) -> str:
    """The store key of a lane. Unambiguous for every source id: groups, metrics and
    categories are catalog names without ``:``, so the source is everything between the first
    ``:`` and the last two.

    >>> lane_key("flooding", "flood-HC-01", "flood_depth", "city")
    'flooding:flood-HC-01:flood_depth:city'
    >>> _source_of(lane_key("wastewater", "pump:ST:01", "inflow", "city"))
    'pump:ST:01'
    """
    return f"{group}:{source}:{metric}:{category}"


def _source_of(key: str) -> str:
    """The source part of a lane key (sources may contain colons; groups never do)."""
    return key.split(":", 1)[1].rsplit(":", 2)[0]


# --- evidence ------------------------------------------------------------------------------


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _jsonable(x: Any) -> Any:
    """``x`` with non-finite floats (which JSON writes as null) replaced by None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def _plain(x: Any) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, dict):
        return all(_plain(v) for v in x.values())
    if isinstance(x, list):
        return all(_plain(v) for v in x)
    return not isinstance(x, tuple)


def clean_evidence(ev: Evidence) -> Evidence:
    """Evidence that survives JSON unchanged: non-finite numbers (NaN baseline of an empty
    window, inf raw) become 0.0 and are listed in ``detail["missing"]``; non-finite recent
    values are dropped; in ``params`` and ``detail`` they become None (tuples become lists).
    Finite evidence is returned as is.

    >>> ev = Evidence(window_start=0, window_end=60, value=float("nan"), baseline=float("nan"),
    ...               threshold=None, score=1.0, raw=3.0, detector="silence",
    ...               detector_version="1", params={}, recent=[1.0, float("nan")])
    >>> c = clean_evidence(ev); c.baseline, c.recent, c.detail["missing"]
    (0.0, [1.0], ['value', 'baseline'])
    """
    nums = {"value": ev.value, "baseline": ev.baseline, "score": ev.score, "raw": ev.raw}
    bad = [k for k, v in nums.items() if not _finite(v)]
    thr_bad = ev.threshold is not None and not _finite(ev.threshold)
    rec_bad = not all(_finite(v) for v in ev.recent)
    params_bad, detail_bad = not _plain(ev.params), not _plain(ev.detail)
    if not (bad or thr_bad or rec_bad or params_bad or detail_bad):
        return ev
    changes: dict[str, Any] = {k: 0.0 for k in bad}
    if params_bad:
        changes["params"] = _jsonable(ev.params)
    if detail_bad:
        changes["detail"] = _jsonable(ev.detail)
    if thr_bad:
        changes["threshold"] = None
        bad.append("threshold")
    if rec_bad:
        changes["recent"] = [float(v) for v in ev.recent if _finite(v)]
    if bad:
        changes["detail"] = {**changes.get("detail", ev.detail), "missing": bad}
    return replace(ev, **changes)


def evidence_from(expl: Explanation, *, detector: str, version: str, params: Mapping[str, Any],
                  window_start: float, window_end: float, value: float) -> Evidence:
    """The :class:`~ioc.events.Evidence` of a detector's :class:`~detectors.base.Explanation`
    for one closed window (``value``: the window's mean, or its count for counted metrics).

    >>> from detectors.base import Explanation
    >>> ev = evidence_from(Explanation(score=0.97, raw=5.2, baseline=2.0, threshold=4.0,
    ...                                contributing=(2.0, 34.0)), detector="robust_z",
    ...                    version="1", params={"threshold": 4.0}, window_start=0.0,
    ...                    window_end=60.0, value=34.0)
    >>> ev.recent, ev.threshold
    ([2.0, 34.0], 4.0)
    """
    return clean_evidence(Evidence(
        window_start=float(window_start), window_end=float(window_end), value=float(value),
        baseline=float(expl.baseline), threshold=expl.threshold, score=float(expl.score),
        raw=float(expl.raw), detector=detector, detector_version=version, params=dict(params),
        recent=[float(v) for v in expl.contributing], detail=dict(expl.detail)))


# --- titles ---------------------------------------------------------------------------------

_LABELS = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO2", "o3": "O3", "aqi": "AQI",
           "ph": "pH", "cod": "COD", "tss": "TSS", "cpi": "CPI", "effluent_cod": "Effluent COD"}


def _label(metric: str) -> str:
    return _LABELS.get(metric) or metric.replace("_", " ").capitalize()


def _num(x: float) -> str:
    """A number as a person reads it on a wall: 34, 5.2, 0.35, 1,250."""
    if not _finite(x):
        return "?"
    ax = abs(x)
    text = f"{x:,.0f}" if ax >= 100 else f"{x:.1f}" if ax >= 10 else f"{x:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _with_unit(x: float, unit: str) -> str:
    return f"{_num(x)} {unit}".rstrip() if unit not in ("%",) else f"{_num(x)}%"


def title_for(*, group: str, district: str, source: str, metric: str, ev: Evidence) -> str:
    """A one-line title for a wall display, in the catalog's units.

    >>> ev = Evidence(window_start=0, window_end=300, value=42.0, baseline=8.0, threshold=None,
    ...               score=0.99, raw=9.1, detector="count_surge", detector_version="1",
    ...               params={}, recent=[])
    >>> title_for(group="citizen_feedback", district="Hai Chau", source="cf-HC-01",
    ...           metric="tickets_opened", ev=ev)
    'Tickets opened: 42 in 5 min at cf-HC-01 (Hai Chau), 5.2x the expected 8'
    """
    try:
        spec: catalog.MetricSpec | None = catalog.group(group).metric(metric)
    except ValidationError:
        spec = None
    unit = spec.unit if spec is not None and not spec.counted else ""
    label, det = _label(metric), ev.detector
    where = f"at {source} ({district})"
    value, base = ev.value, ev.baseline
    if det == catalog.SILENCE:
        return f"No data from {source} ({district}): {label.lower()} silent"
    if det == catalog.STUCK:
        return f"{label} stuck at {_with_unit(value, unit)} {where}"
    if spec is not None and spec.counted:
        minutes = max(1, round((ev.window_end - ev.window_start) / 60))
        head = f"{label}: {_num(value)} in {minutes} min {where}"
    else:
        head = f"{label} {_with_unit(value, unit)} {where}"
    if det == catalog.PHYSICAL_RANGE and spec is not None:
        lo, hi = spec.physical
        return f"{head}, outside the sensor's range {_num(lo)}-{_with_unit(hi, unit)}"
    direction = "above" if value >= base else "below"
    if det == catalog.THRESHOLD and spec is not None:
        if spec.breach_above is not None and value > spec.breach_above:
            return f"{head}, over the {_with_unit(spec.breach_above, unit)} limit"
        if spec.breach_below is not None and value < spec.breach_below:
            return f"{head}, under the {_with_unit(spec.breach_below, unit)} limit"
    if det.startswith("robust_z") or det in ("zscore", "z"):
        return f"{head}, {abs(ev.raw):.1f}σ {direction} baseline {_with_unit(base, unit)}"
    if spec is not None and spec.counted and base > 0:
        return f"{head}, {value / base:.1f}x the expected {_num(base)}"
    return f"{head}, {direction} baseline {_with_unit(base, unit)} ({det} {ev.score:.2f})"


# --- the book --------------------------------------------------------------------------------


class AlertBook:
    """Open, update, escalate, acknowledge, silence and resolve alerts (see the module doc).

    ``store`` maps lane keys to msgpack bytes; ``resolve_after`` is the number of normal
    windows in a row that auto-resolve an alert (``IOC_RESOLVE_AFTER_WINDOWS``);
    ``flap_window_s`` how soon after its resolution a firing re-opens the same episode.
    """

    def __init__(self, store: MutableMapping[str, bytes], *, resolve_after: int = 3,
                 flap_window_s: float = 900.0, escalation: EscalationPolicy | None = None,
                 max_flap_boost: int = 3, silence_policy: SilencePolicy | None = None) -> None:
        if resolve_after < 1:
            raise ConfigError(f"resolve_after must be at least 1, got {resolve_after}")
        if not flap_window_s >= 0:
            raise ConfigError(f"flap_window_s must be >= 0, got {flap_window_s}")
        if max_flap_boost < 0:
            raise ConfigError(f"max_flap_boost must be >= 0, got {max_flap_boost}")
        self.store = store
        self.resolve_after = resolve_after
        self.flap_window_s = flap_window_s
        self.escalation = escalation or EscalationPolicy()
        self.max_flap_boost = max_flap_boost
        self.silence_policy = silence_policy

    @classmethod
    def from_settings(cls, store: MutableMapping[str, bytes], settings: Settings,
                      **kw: Any) -> AlertBook:
        """A book using ``IOC_RESOLVE_AFTER_WINDOWS``, ``IOC_FLAP_WINDOW_S``,
        ``IOC_ESCALATE_AFTER_S`` and the silence policy (``IOC_MAX_SILENCE_S``,
        ``IOC_OPERATORS_MAY_SILENCE_BROADLY``); other options as keywords."""
        kw.setdefault("flap_window_s", settings.flap_window_s)
        kw.setdefault("silence_policy", SilencePolicy.from_settings(settings))
        kw.setdefault("escalation", EscalationPolicy(escalate_after_s=settings.escalate_after_s))
        return cls(store, resolve_after=settings.resolve_after_windows, **kw)

    # --- reading ---------------------------------------------------------------------------
    def _load(self, key: str) -> _Lane | None:
        raw = self.store.get(key)
        return None if raw is None else _DEC.decode(raw)

    def _save(self, key: str, lane: _Lane) -> None:
        self.store[key] = _ENC.encode(lane)

    def get(self, aid: str) -> Alert | None:
        """The latest state of alert ``aid`` if it is its lane's current episode, else None."""
        found = self._find(aid)
        return None if found is None else found[1].alert

    def alerts(self, owns: Owns | None = None) -> Iterator[Alert]:
        """The current episode of every lane (open or resolved) whose source ``owns`` accepts
        (default: all), in store order."""
        for key in list(self.store):
            if owns is not None and not owns(_source_of(key)):
                continue
            lane = self._load(key)
            if lane is not None and lane.alert is not None:
                yield lane.alert

    def open_counts(self, owns: Owns | None = None) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity): the ``ioc_worker_open_alerts`` gauge."""
        counts: dict[tuple[str, str], int] = {}
        for a in self.alerts(owns):
            if a.status in OPEN:
                counts[(a.group, a.severity)] = counts.get((a.group, a.severity), 0) + 1
        return counts

    def _find(self, aid: str) -> tuple[str, _Lane] | None:
        _, group, source, metric = split_alert_id(aid)
        for category in LANES:
            key = lane_key(group, source, metric, category)
            lane = self._load(key)
            if lane is not None and aid in lane.versions:
                return key, lane
        return None

    # --- publishing ------------------------------------------------------------------------
    def _publish(self, lane: _Lane, alert: Alert, change: str, *, user: str | None = None,
                 reason: str | None = None) -> Alert:
        version = lane.versions.get(alert.alert_id, 0) + 1
        rec = replace(alert, version=version, change=change, user=user, reason=reason)
        lane.versions[alert.alert_id] = version
        lane.alert = rec
        lane.dirty = False
        return rec

    @staticmethod
    def _owner(lane: _Lane, status: str) -> tuple[str | None, str | None]:
        """Who put an alert in ``status`` and why (automatic changes keep them)."""
        if status == "silenced":
            return lane.sil_user, lane.sil_reason
        if status == "acknowledged":
            return lane.ack_user, lane.ack_reason
        return None, None

    @staticmethod
    def _replayed(lane: _Lane) -> list[Alert]:
        return [lane.alert] if lane.alert is not None and not lane.dirty else []

    @staticmethod
    def _fields(alert: Alert) -> dict[str, str]:
        return {"alert_id": alert.alert_id, "group": alert.group, "district": alert.district,
                "source": alert.source, "metric": alert.metric, "detector": alert.detector,
                "category": alert.category, "severity": alert.severity}

    def _needed(self, lane: _Lane) -> int:
        return self.resolve_after * (1 + min(lane.flaps, self.max_flap_boost))

    # --- windows ---------------------------------------------------------------------------
    def observe(self, *, group: str, district: str, source: str, metric: str,
                verdicts: Sequence[Verdict], ts: float, silences: SilenceBook) -> list[Alert]:
        """Apply the detectors' verdicts on one closed window of (source, metric).

        Pass every detector's verdict for the window in one call (health and city detectors
        alike; they are split into their lanes here), so hysteresis counts whole windows.
        ``ts`` is the decision time in stream time (normally the window end). Returns the
        records to publish, oldest first.
        """
        out: list[Alert] = []
        for category in LANES:
            vs = [v for v in verdicts if v.health == (category == HEALTH)]
            if vs:
                out += self._observe_lane(category, group, district, source, metric, vs, ts,
                                          silences)
        return out

    def _observe_lane(self, category: Category, group: str, district: str, source: str,
                      metric: str, vs: list[Verdict], ts: float,
                      silences: SilenceBook) -> list[Alert]:
        key = lane_key(group, source, metric, category)
        fired = [v for v in vs if v.firing]
        lane = self._load(key)
        if lane is None:
            if not fired:
                return []           # a lane that never fired: nothing to remember
            lane = _Lane()
        elif not fired and not lane.open:
            return []               # closed lane, normal window: nothing changes
        fresh = [v for v in vs if v.evidence.window_end > lane.seen.get(v.detector, -math.inf)]
        if not fresh:
            return self._replayed(lane)
        for v in fresh:
            lane.seen[v.detector] = v.evidence.window_end
        fired = [v for v in fresh if v.firing]
        now = max(lane.clock, ts)
        end = max(v.evidence.window_end for v in fresh)
        out = self._advance(lane, now, silences, escalate=not fired)
        if fired:
            best = max(fired, key=lambda v: (v.evidence.score, v.detector))
            lane.fired_end = max(lane.fired_end, end)
            lane.normal = 0
            out += self._fire(lane, category, group, district, source, metric, best, ts, now,
                              silences)
        elif end > max(lane.fired_end, lane.normal_end):
            lane.normal += 1
            lane.normal_end = end
            if lane.open and lane.normal >= self._needed(lane):
                out.append(self._close(lane, now, "auto_resolved", None,
                                       f"{lane.normal} normal windows in a row"))
        self._save(key, lane)
        return out

    def _fire(self, lane: _Lane, category: Category, group: str, district: str, source: str,
              metric: str, best: Verdict, ts: float, now: float,
              silences: SilenceBook) -> list[Alert]:
        ev = clean_evidence(best.evidence)
        health = category == HEALTH
        title = title_for(group=group, district=district, source=source, metric=metric, ev=ev)
        a = lane.alert
        pol = self.escalation
        if a is not None and a.status in OPEN:
            by_score = max(a.severity, pol.initial(ev, health=health), key=_rank)
            sev = by_score
            if a.status == "firing":
                sev = max(sev, pol.escalated(lane.base, now - a.first_seen, health=health),
                          key=_rank)
            new = replace(a, count=a.count + 1, last_seen=max(a.last_seen, ts), evidence=ev,
                          severity=sev, title=title, updated_at=now)
            if a.status == "silenced":   # held; out of the silence if it no longer matches
                lane.alert, lane.dirty = new, True
                return self._sync_silence(lane, now, silences)
            change = "escalated" if _rank(sev) > _rank(a.severity) else "updated"
            user, reason = self._owner(lane, a.status)
            if change == "escalated" and a.status == "firing":
                reason = (f"{ev.detector} score {ev.score:.3g}" if sev == by_score
                          else f"firing for {(now - a.first_seen) / 60:.0f} min")
            return [self._publish(lane, new, change, user=user, reason=reason)]
        reopen = (a is not None and lane.resolved_at is not None
                  and now - lane.resolved_at <= self.flap_window_s)
        if a is not None and reopen:
            new = replace(a, status="firing", count=a.count + 1, last_seen=max(a.last_seen, ts),
                          evidence=ev, title=title, updated_at=now, silenced_until=None,
                          severity=max(a.severity, pol.initial(ev, health=health), key=_rank))
            change = "reopened"
        else:
            sev = pol.initial(ev, health=health)
            new = Alert(alert_id=alert_id(best.detector, group, source, metric), version=0,
                        status="firing", severity=sev, category=category,
                        group=group, district=district, source=source, metric=metric,
                        detector=best.detector, title=title, first_seen=ts, last_seen=ts,
                        count=1, updated_at=now, change="opened", evidence=ev)
            change = "opened"
        if change == "reopened":
            lane.flaps += 1
        else:
            lane.flaps = 0
            lane.base = new.severity
        lane.acked, lane.ack_user, lane.ack_reason = False, None, None
        lane.resolved_at = None
        held = silences.match(self._fields(new), now)
        if held is not None:  # recorded all the same, held silenced (the audit trail)
            lane.sil_user, lane.sil_reason, lane.sil_id = (held.user, held.reason or None,
                                                           held.silence_id)
            new = replace(new, status="silenced", silenced_until=held.until)
            return [self._publish(lane, new, change, user=held.user, reason=held.reason or None)]
        return [self._publish(lane, new, change)]

    def _close(self, lane: _Lane, now: float, change: str, user: str | None,
               reason: str | None) -> Alert:
        assert lane.alert is not None
        new = replace(lane.alert, status="resolved", updated_at=now, silenced_until=None)
        lane.resolved_at = now
        lane.acked, lane.ack_user, lane.ack_reason = False, None, None
        lane.sil_user = lane.sil_reason = lane.sil_id = None
        lane.normal = 0
        return self._publish(lane, new, change, user=user, reason=reason)

    def _sync_silence(self, lane: _Lane, now: float, silences: SilenceBook) -> list[Alert]:
        """Silence an open alert a silence now covers; unsilence one whose silence ended."""
        a = lane.alert
        if a is None or a.status not in OPEN:
            return []
        s = silences.match(self._fields(a), now)
        if s is None:
            if a.status != "silenced":
                return []
            held = silences.get(lane.sil_id) if lane.sil_id else None
            status = "acknowledged" if lane.acked else "firing"
            lane.sil_user = lane.sil_reason = lane.sil_id = None
            user, reason = self._owner(lane, status)
            if held is not None and held.lifted_at is not None:
                user, reason = held.lifted_by, f"silence {held.silence_id} lifted"
            new = replace(a, status=status, silenced_until=None, updated_at=now)
            return [self._publish(lane, new, "unsilenced", user=user, reason=reason)]
        if a.status == "silenced" and a.silenced_until == s.until:
            lane.sil_id = s.silence_id
            return []
        lane.sil_user, lane.sil_reason, lane.sil_id = s.user, s.reason or None, s.silence_id
        new = replace(a, status="silenced", silenced_until=s.until, updated_at=now)
        return [self._publish(lane, new, "silenced", user=s.user, reason=s.reason or None)]

    # --- commands --------------------------------------------------------------------------
    def command(self, cmd: Command, *, now: float, silences: SilenceBook) -> list[Alert]:
        """Apply an operator command; ``now`` is the worker's stream clock.

        ``ack``: firing -> acknowledged (a silenced alert stays silenced and returns to
        acknowledged when the silence ends). ``resolve``: open -> resolved. ``note``: appends
        a note, status unchanged. A no-op (ack of an acknowledged or resolved alert, resolve of
        a resolved one) returns ``[]``. ``silence`` only stores the silence in ``silences``
        (after the book's :class:`~streams.silences.SilencePolicy`) and returns ``[]``: each
        matching open alert turns ``silenced`` at its lane's next window or :meth:`tick` (its
        owner may be another worker); ``unsilence`` lifts one the same way, its alerts turning
        ``unsilenced``. Raise :class:`~ioc.errors.ValidationError` for an alert_id this book
        does not hold, one superseded by a newer alert of its lane, a silence the policy
        refuses or an unknown silence_id (the caller logs or dead-letters it).
        """
        if cmd.action == "silence":
            if self.silence_policy is not None:
                self.silence_policy.check(cmd)
            silences.add(cmd)
            return []
        if cmd.action == "unsilence":
            silences.lift(cmd)
            return []
        assert cmd.alert_id is not None  # Command validates it
        found = self._find(cmd.alert_id)
        if found is None:
            raise ValidationError("alert_id", f"no alert {cmd.alert_id!r} on this worker")
        key, lane = found
        a = lane.alert
        assert a is not None
        if cmd.command_id in lane.applied:
            return self._replayed(lane)
        if a.alert_id != cmd.alert_id:
            raise ValidationError("alert_id", f"alert {cmd.alert_id!r} is closed; its lane now "
                                  f"tracks {a.alert_id!r}")
        now = max(lane.clock, now)
        out = self._advance(lane, now, silences)
        a = lane.alert
        assert a is not None
        reason = cmd.reason or None
        if cmd.action == "ack" and a.status in ("firing", "silenced") and not lane.acked:
            lane.acked, lane.ack_user, lane.ack_reason = True, cmd.user, reason
            status = "acknowledged" if a.status == "firing" else a.status
            out.append(self._publish(lane, replace(a, status=status, updated_at=now),
                                     "acknowledged", user=cmd.user, reason=reason))
        elif cmd.action == "resolve" and a.status in OPEN:
            out.append(self._close(lane, now, "resolved", cmd.user, reason))
        elif cmd.action == "note":
            note = Note(ts=cmd.ts, user=cmd.user, text=(cmd.text or "").strip())
            new = replace(a, notes=[*a.notes, note], updated_at=now)
            out.append(self._publish(lane, new, "note", user=cmd.user, reason=reason))
        lane.applied = [*lane.applied, cmd.command_id][-MAX_APPLIED:]
        self._save(key, lane)
        return out

    # --- time ------------------------------------------------------------------------------
    def tick(self, now: float, silences: SilenceBook, *,
             owns: Owns | None = None) -> list[Alert]:
        """Advance open alerts to ``now`` (stream clock): apply new and ended silences,
        escalate alerts still firing by duration. Ticking again at the same or an earlier
        time changes nothing unless the silences changed.

        Every window of a lane advances it too (empty windows close as well), so ticks only
        make silences and escalation land sooner than the next window. ``owns(source)``
        restricts the sweep to the lanes of some sources: in a Faust worker, tick inside the
        processing of an event of partition P with ``owns`` accepting the sources that hash to
        P, since a table write goes to the changelog partition of the current event (and a
        memory-store table also iterates standby partitions).
        """
        out: list[Alert] = []
        for key in list(self.store):
            if owns is not None and not owns(_source_of(key)):
                continue
            lane = self._load(key)
            if lane is None or not lane.open:
                continue
            moved = now > lane.clock
            recs = self._advance(lane, now, silences)
            if recs or moved:
                self._save(key, lane)
            out += recs
        return out

    def _advance(self, lane: _Lane, now: float, silences: SilenceBook, *,
                 escalate: bool = True) -> list[Alert]:
        """Bring a lane to time ``now`` (never backwards): silences, escalation by duration.

        Every input first advances its lane, so a lane's state is always complete at its
        clock, and an input replayed after a restore (at or before that clock) finds nothing
        left to do.
        """
        t = lane.clock = max(lane.clock, now)
        if not lane.open:
            return []
        recs = self._sync_silence(lane, t, silences)
        a = lane.alert
        if escalate and a is not None and a.status == "firing":
            sev = self.escalation.escalated(lane.base, t - a.first_seen,
                                            health=a.category == HEALTH)
            if _rank(sev) > _rank(a.severity):
                minutes = (t - a.first_seen) / 60
                recs.append(self._publish(lane, replace(a, severity=sev, updated_at=t),
                                          "escalated", reason=f"firing for {minutes:.0f} min"))
        return recs
