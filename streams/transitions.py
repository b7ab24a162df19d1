"""The transitions of one alert lane: a window's verdicts, an operator command, time passing.

:class:`LaneRules` changes a :class:`~streams.lanes.Lane` in place and returns the records to
publish, oldest first; it never reads or writes a store (that is
:class:`~streams.lifecycle.AlertBook`'s job), so every transition is a pure function of
(lane, input). The lifecycle it implements is described in :mod:`streams.lifecycle`; its
silence sync is :mod:`streams.silencing`, its operator commands :mod:`streams.lane_commands`.

>>> from ioc.events import Evidence
>>> from streams.evidence import Verdict
>>> from streams.silences import SilenceBook
>>> rules, lane, silences = LaneRules(resolve_after=1), Lane(), SilenceBook({})
>>> where = LaneAddress("flooding", "Hai Chau", "flood-HC-01", "flood_depth", "city")
>>> def verdict(end, firing):
...     return Verdict(firing, False, Evidence(
...         window_start=end - 60, window_end=end, value=34.0, baseline=2.0, threshold=4.0,
...         score=0.95, raw=5.2, detector="robust_z", detector_version="1", params={},
...         recent=[]))
>>> [a.change for a in rules.window(lane, where, [verdict(60.0, True)], 60.0, silences)]
['opened']
>>> [a.change for a in rules.window(lane, where, [verdict(120.0, False)], 120.0, silences)]
['auto_resolved']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec.structs import replace

from ioc.errors import ConfigError
from ioc.events import Alert, Command, Evidence, alert_id
from ioc.i18n import render
from streams.evidence import Verdict, clean_evidence
from streams.lane_commands import apply_command
from streams.lanes import HEALTH, OPEN, Lane, LaneAddress, alert_fields
from streams.severity import EscalationPolicy, rank
from streams.silences import SilenceBook
from streams.silencing import sync_silence
from streams.titles import title_parts

__all__ = ["LaneRules"]


class LaneRules:
    """Hysteresis, flap damping, escalation, silences and commands on one lane.

    ``resolve_after``: normal windows in a row that auto-resolve an alert;
    ``flap_window_s``: how soon after its resolution a firing re-opens the same episode;
    ``max_flap_boost``: how many times over ``resolve_after`` a flapping alert may need.
    """

    def __init__(self, *, resolve_after: int = 3, flap_window_s: float = 900.0,
                 escalation: EscalationPolicy | None = None, max_flap_boost: int = 3) -> None:
        if resolve_after < 1:
            raise ConfigError(f"resolve_after must be at least 1, got {resolve_after}")
        if not flap_window_s >= 0:
            raise ConfigError(f"flap_window_s must be >= 0, got {flap_window_s}")
        if max_flap_boost < 0:
            raise ConfigError(f"max_flap_boost must be >= 0, got {max_flap_boost}")
        self.resolve_after = resolve_after
        self.flap_window_s = flap_window_s
        self.escalation = escalation or EscalationPolicy()
        self.max_flap_boost = max_flap_boost

    def needed(self, lane: Lane) -> int:
        """Normal windows in a row that auto-resolve the lane's alert (flap damping)."""
        return self.resolve_after * (1 + min(lane.flaps, self.max_flap_boost))

    # --- a window --------------------------------------------------------------------------
    def window(self, lane: Lane, where: LaneAddress, verdicts: Sequence[Verdict], ts: float,
               silences: SilenceBook) -> list[Alert]:
        """Apply a lane's verdicts on one window (a window already applied changes nothing
        and returns the last published record again)."""
        fresh = lane.fresh(verdicts)
        if not fresh:
            return lane.replayed()
        for v in fresh:
            lane.seen[v.detector] = v.evidence.window_end
        fired = [v for v in fresh if v.firing]
        now = max(lane.clock, ts)
        end = max(v.evidence.window_end for v in fresh)
        out = self.advance(lane, now, silences, escalate=not fired)
        if fired:
            best = max(fired, key=lambda v: (v.evidence.score, v.detector))
            lane.fired_end = max(lane.fired_end, end)
            lane.normal = 0
            a = lane.alert
            out += (self._update(lane, a, where, best, ts, now, silences)
                    if a is not None and a.status in OPEN
                    else self._start(lane, where, best, ts, now, silences))
        elif end > max(lane.fired_end, lane.normal_end):
            lane.normal += 1
            lane.normal_end = end
            if lane.open and lane.normal >= self.needed(lane):
                out.append(self.close(lane, now, "auto_resolved", None,
                                      f"{lane.normal} normal windows in a row"))
        return out

    def _update(self, lane: Lane, a: Alert, where: LaneAddress, best: Verdict, ts: float,
                now: float, silences: SilenceBook) -> list[Alert]:
        """A detector fired on an open alert: update (escalate) it, or hold it silenced."""
        ev = clean_evidence(best.evidence)
        health = where.category == HEALTH
        pol = self.escalation
        by_score = max(a.severity, pol.initial(ev, health=health), key=rank)
        sev = by_score
        if a.status == "firing":
            sev = max(sev, pol.escalated(lane.base, now - a.first_seen, health=health), key=rank)
        new = replace(a, count=a.count + 1, last_seen=max(a.last_seen, ts), evidence=ev,
                      severity=sev, **_titled(where, ev), updated_at=now)
        if a.status == "silenced":   # held; out of the silence if it no longer matches
            lane.alert, lane.dirty = new, True
            return sync_silence(lane, now, silences)
        change = "escalated" if rank(sev) > rank(a.severity) else "updated"
        user, reason, name = lane.owner(a.status)
        if change == "escalated" and a.status == "firing":
            reason = (f"{ev.detector} score {ev.score:.3g}" if sev == by_score
                      else f"firing for {(now - a.first_seen) / 60:.0f} min")
        return [lane.publish(new, change, user=user, reason=reason, name=name)]

    def _start(self, lane: Lane, where: LaneAddress, best: Verdict, ts: float, now: float,
               silences: SilenceBook) -> list[Alert]:
        """A detector fired on a closed lane: reopen the episode (flapping) or open one."""
        ev = clean_evidence(best.evidence)
        health = where.category == HEALTH
        initial = self.escalation.initial(ev, health=health)
        a = lane.alert
        if (a is not None and lane.resolved_at is not None
                and now - lane.resolved_at <= self.flap_window_s):
            new = replace(a, status="firing", count=a.count + 1, last_seen=max(a.last_seen, ts),
                          evidence=ev, **_titled(where, ev), updated_at=now,
                          silenced_until=None, severity=max(a.severity, initial, key=rank))
            change = "reopened"
            lane.flaps += 1
        else:
            g, src, met = where.group, where.source, where.metric
            new = Alert(alert_id=alert_id(best.detector, g, src, met), version=0,
                        status="firing", severity=initial, category=where.category, group=g,
                        district=where.district, source=src, metric=met,
                        detector=best.detector, **_titled(where, ev), first_seen=ts,
                        last_seen=ts, count=1, updated_at=now, change="opened", evidence=ev)
            change = "opened"
            lane.flaps = 0
            lane.base = new.severity
        lane.acked, lane.ack_user, lane.ack_reason, lane.ack_name = False, None, None, None
        lane.resolved_at = None
        held = silences.match(alert_fields(new), now)
        if held is not None:  # recorded all the same, held silenced (the audit trail)
            reason = held.reason or None
            lane.sil_user, lane.sil_reason, lane.sil_id = held.user, reason, held.silence_id
            lane.sil_name = held.display_name
            new = replace(new, status="silenced", silenced_until=held.until)
            return [lane.publish(new, change, user=held.user, reason=reason,
                                 name=held.display_name)]
        return [lane.publish(new, change)]

    def close(self, lane: Lane, now: float, change: str, user: str | None,
              reason: str | None, name: str | None = None) -> Alert:
        """Resolve the lane's alert (``change``: ``resolved`` by ``user``, whose display name
        is ``name``, or ``auto_resolved``)."""
        assert lane.alert is not None
        new = replace(lane.alert, status="resolved", updated_at=now, silenced_until=None)
        lane.resolved_at = now
        lane.acked, lane.ack_user, lane.ack_reason, lane.ack_name = False, None, None, None
        lane.sil_user = lane.sil_reason = lane.sil_id = lane.sil_name = None
        lane.normal = 0
        return lane.publish(new, change, user=user, reason=reason, name=name)

    # --- time --------------------------------------------------------------------------
    def advance(self, lane: Lane, now: float, silences: SilenceBook, *,
                escalate: bool = True) -> list[Alert]:
        """Bring a lane to time ``now`` (never backwards): silences, escalation by duration.

        Every input first advances its lane, so a lane's state is always complete at its
        clock, and an input replayed after a restore (at or before that clock) finds nothing
        left to do.
        """
        t = lane.clock = max(lane.clock, now)
        if not lane.open:
            return []
        recs = sync_silence(lane, t, silences)
        a = lane.alert
        if escalate and a is not None and a.status == "firing":
            sev = self.escalation.escalated(lane.base, t - a.first_seen,
                                            health=a.category == HEALTH)
            if rank(sev) > rank(a.severity):
                minutes = (t - a.first_seen) / 60
                recs.append(lane.publish(replace(a, severity=sev, updated_at=t),
                                         "escalated", reason=f"firing for {minutes:.0f} min"))
        return recs

    def command(self, lane: Lane, cmd: Command, now: float,
                silences: SilenceBook) -> list[Alert]:
        """Apply an operator's command to ``lane`` (:func:`streams.lane_commands.apply_command`)."""
        return apply_command(self, lane, cmd, now, silences)


def _titled(where: LaneAddress, ev: Evidence) -> dict[str, Any]:
    """An alert's ``title`` (English) and ``title_parts`` (any language) for ``ev``."""
    parts = title_parts(group=where.group, district=where.district, source=where.source,
                        metric=where.metric, ev=ev)
    return {"title": render("en", parts["key"], parts["params"]), "title_parts": parts}
