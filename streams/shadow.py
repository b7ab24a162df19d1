"""Shadow mode: what a detector on trial would have raised, kept apart from operators.

A detector configured ``shadow`` for a metric (``IOC_DETECTORS_CONFIG``: ``shadow = [...]``)
scores every window like a live one; each window on which its policy fires becomes one
:class:`~ioc.events.Alert` record with ``change = "shadow"`` (version 1, ``count`` 1, the
window's evidence, the severity a live alert would have opened with). The worker publishes
these on the shadow topic (``ioc.shadow``), never on ``ioc.alerts``, so the wall and the
notifier (readers of ``ioc.alerts`` only) never see them; the archive keeps them in
``shadow_alerts`` and ``ioc detectors shadow-report`` merges a series' consecutive windows into
episodes to compare them with the live detectors. Pure: no Faust, no I/O.

>>> from ioc.events import Evidence
>>> ev = Evidence(window_start=0.0, window_end=60.0, value=34.0, baseline=2.0, threshold=4.0,
...               score=0.97, raw=5.2, detector="ewma", detector_version="1", params={},
...               recent=[2.0, 34.0], side="high")
>>> rec = shadow_record(group="flooding", district="Hai Chau", source="flood-HC-01",
...                     metric="flood_depth", verdict=Verdict(True, False, ev, True), ts=60.0)
>>> rec.alert_id, rec.change, rec.status, rec.first_seen, rec.category
('ewma:flooding:flood-HC-01:flood_depth', 'shadow', 'firing', 0.0, 'city')
"""

from __future__ import annotations

from ioc.events import Alert, alert_id
from streams.evidence import Verdict, clean_evidence
from streams.severity import EscalationPolicy
from streams.titles import title_for

__all__ = ["SHADOW_CHANGE", "shadow_record"]

SHADOW_CHANGE = "shadow"
_DEFAULT_ESCALATION = EscalationPolicy()


def shadow_record(*, group: str, district: str, source: str, metric: str, verdict: Verdict,
                  ts: float, escalation: EscalationPolicy | None = None) -> Alert:
    """The record of one window a shadow detector fired on (``ts``: the decision time)."""
    ev = clean_evidence(verdict.evidence)
    severity = (escalation or _DEFAULT_ESCALATION).initial(ev, health=verdict.health)
    return Alert(
        alert_id=alert_id(verdict.detector, group, source, metric), version=1,
        status="firing", severity=severity,
        category="sensor_health" if verdict.health else "city", group=group,
        district=district, source=source, metric=metric, detector=verdict.detector,
        title=title_for(group=group, district=district, source=source, metric=metric, ev=ev),
        first_seen=ev.window_start, last_seen=ev.window_end, count=1, updated_at=ts,
        change=SHADOW_CHANGE, evidence=ev)
