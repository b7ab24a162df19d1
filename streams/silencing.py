"""An open alert's lane brought in line with the silences: silenced when one now covers it,
unsilenced (back to ``firing`` or ``acknowledged``) when its silence ended or was lifted.

Pure: changes a :class:`~streams.lanes.Lane` in place and returns the records to publish (see
:mod:`streams.lifecycle` for the lifecycle; :class:`~streams.transitions.LaneRules` calls it
at every window, command and tick).
"""

from __future__ import annotations

from msgspec.structs import replace

from ioc.events import Alert
from streams.lanes import OPEN, Lane, alert_fields
from streams.silences import SilenceBook

__all__ = ["sync_silence"]


def sync_silence(lane: Lane, now: float, silences: SilenceBook) -> list[Alert]:
    """Silence an open alert a silence now covers; unsilence one whose silence ended."""
    a = lane.alert
    if a is None or a.status not in OPEN:
        return []
    s = silences.match(alert_fields(a), now)
    if s is None:
        if a.status != "silenced":
            return []
        held = silences.get(lane.sil_id) if lane.sil_id else None
        status = "acknowledged" if lane.acked else "firing"
        lane.sil_user = lane.sil_reason = lane.sil_id = lane.sil_name = None
        user, reason, name = lane.owner(status)
        if held is not None and held.lifted_at is not None:
            user, reason = held.lifted_by, f"silence {held.silence_id} lifted"
            name = held.lifted_by_name
        new = replace(a, status=status, silenced_until=None, updated_at=now)
        return [lane.publish(new, "unsilenced", user=user, reason=reason, name=name)]
    if a.status == "silenced" and a.silenced_until == s.until:
        lane.sil_id = s.silence_id
        return []
    lane.sil_user, lane.sil_reason, lane.sil_id = s.user, s.reason or None, s.silence_id
    lane.sil_name = s.display_name
    new = replace(a, status="silenced", silenced_until=s.until, updated_at=now)
    return [lane.publish(new, "silenced", user=s.user, reason=s.reason or None,
                         name=s.display_name)]
