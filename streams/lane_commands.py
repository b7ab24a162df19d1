"""An operator's ``ack``, ``resolve`` or ``note`` applied to the lane holding its alert.

Pure: changes a :class:`~streams.lanes.Lane` in place and returns the records to publish; a
command id the lane has applied already changes nothing and returns the last published record
again. :meth:`streams.lifecycle.AlertBook.command` finds the lane and stores it; the rules of
time passing and resolving are :class:`~streams.transitions.LaneRules`'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec.structs import replace

from ioc.errors import ValidationError
from ioc.events import Alert, Command, Note
from streams.lanes import MAX_APPLIED, OPEN, Lane
from streams.silences import SilenceBook

if TYPE_CHECKING:
    from streams.transitions import LaneRules

__all__ = ["apply_command"]


def apply_command(rules: LaneRules, lane: Lane, cmd: Command, now: float,
                  silences: SilenceBook) -> list[Alert]:
    """Apply an ``ack``, ``resolve`` or ``note`` to the lane holding ``cmd.alert_id``
    (see :meth:`streams.lifecycle.AlertBook.command`)."""
    a = lane.alert
    assert a is not None
    if cmd.command_id in lane.applied:
        return lane.replayed()
    if a.alert_id != cmd.alert_id:
        raise ValidationError("alert_id", f"alert {cmd.alert_id!r} is closed; its lane now "
                              f"tracks {a.alert_id!r}")
    now = max(lane.clock, now)
    out = rules.advance(lane, now, silences)
    a = lane.alert
    assert a is not None
    reason, name = cmd.reason or None, cmd.display_name
    if cmd.action == "ack" and a.status in ("firing", "silenced") and not lane.acked:
        lane.acked, lane.ack_user, lane.ack_reason = True, cmd.user, reason
        lane.ack_name = name
        status = "acknowledged" if a.status == "firing" else a.status
        out.append(lane.publish(replace(a, status=status, updated_at=now, **_label(cmd)),
                                "acknowledged", user=cmd.user, reason=reason, name=name))
    elif cmd.action == "resolve" and a.status in OPEN:
        lane.alert = replace(a, **_label(cmd))
        out.append(rules.close(lane, now, "resolved", cmd.user, reason, name))
    elif cmd.label is not None and (cmd.label, reason) != (a.label, a.label_note):
        # an ack or resolve that changes no status still labels the episode
        out.append(lane.publish(replace(a, updated_at=now, **_label(cmd)), "labelled",
                                user=cmd.user, reason=reason, name=name))
    elif cmd.action == "note":
        note = Note(ts=cmd.ts, user=cmd.user, text=(cmd.text or "").strip(),
                    display_name=name)
        new = replace(a, notes=[*a.notes, note], updated_at=now)
        out.append(lane.publish(new, "note", user=cmd.user, reason=reason, name=name))
    lane.applied = [*lane.applied, cmd.command_id][-MAX_APPLIED:]
    return out


def _label(cmd: Command) -> dict[str, str | None]:
    """The label fields a command sets on its alert (none: it carries no label)."""
    if cmd.label is None:
        return {}
    return {"label": cmd.label, "label_note": (cmd.reason or "").strip() or None}
