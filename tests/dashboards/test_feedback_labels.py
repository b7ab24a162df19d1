"""Labels from the wall: a websocket command frame's ``label`` becomes the Command's, a bad
one is refused naming the field (pure: no server)."""

from __future__ import annotations

import pytest

from dashboards.commands import build_command
from dashboards.protocol import CommandRequest, ProtocolError, parse_client

AID = "robust_z:flooding:rain-HC-01:rainfall"


def test_a_resolve_frame_carries_its_label_and_note() -> None:
    req = parse_client(b'{"type": "command", "action": "resolve", "alert_id": "' +
                       AID.encode() + b'", "label": "false_alarm", "reason": "drain works"}')
    assert isinstance(req, CommandRequest)
    cmd = build_command(req, role="operator", now=1795410000.0, command_id="c1")
    assert (cmd.action, cmd.label, cmd.reason) == ("resolve", "false_alarm", "drain works")


@pytest.mark.parametrize("action, label, reason", [
    ("ack", "maybe", "unknown label 'maybe'"),
    ("note", "real", "a label goes with `ack` or `resolve`, not `note`")])
def test_a_bad_label_is_refused_naming_the_field(action: str, label: str, reason: str) -> None:
    req = CommandRequest(action=action, alert_id=AID, label=label, text="x")
    with pytest.raises(ProtocolError) as exc:
        build_command(req, role="operator", now=1795410000.0, command_id="c2")
    assert exc.value.code == "invalid_command" and exc.value.field == "label"
    assert reason in exc.value.reason
