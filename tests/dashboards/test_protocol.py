"""Client message parsing and command building: every refusal names its field."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.commands import build_command, command_key
from dashboards.protocol import Auth, CommandRequest, ProtocolError, delta_frame, parse_client
from ioc.events import alert_id, decode_command, encode

AID = "robust_z:flooding:rain-HC-01:rainfall"
NOW = 1_795_410_000.0


def refuse(raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as exc:
        parse_client(raw)
    return exc.value


def test_auth_with_subscription_and_resume() -> None:
    msg = parse_client(json.dumps({"type": "auth", "token": "t", "name": "Lan",
                                   "subscribe": {"groups": ["flooding"]},
                                   "resume": {"epoch": "e", "seq": 4}}))
    assert isinstance(msg, Auth)
    assert msg.subscribe is not None and msg.subscribe.groups == ["flooding"]
    assert msg.resume is not None and msg.resume.seq == 4


@pytest.mark.parametrize(("raw", "code", "field"), [
    ("", "bad_json", None),
    ("null", "bad_json", None),
    ('"auth"', "bad_json", None),
    ("{}", "bad_message", "type"),
    ('{"type": 3}', "bad_message", "type"),
    ('{"type":"auth","token":1}', "bad_message", "token"),
    ('{"type":"auth","name":"   "}', "bad_message", "name"),
    ('{"type":"auth","name":"' + "x" * 65 + '"}', "bad_message", "name"),
    ('{"type":"subscribe","severities":["urgent"]}', "bad_message", "severities"),
    ('{"type":"subscribe","districts":["Atlantis"]}', "bad_message", "districts"),
    ('{"type":"command","ref":"' + "r" * 65 + '","action":"ack"}', "bad_message", "ref"),
    ('{"type":"command","action":"ack","until":"soon"}', "bad_message", "until"),
])
def test_malformed_messages_name_the_field(raw: str, code: str, field: str | None) -> None:
    err = refuse(raw)
    assert (err.code, err.field) == (code, field)
    frame = json.loads(err.frame())
    assert frame["type"] == "error" and frame["code"] == code


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_protocol_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_client(raw)


def test_commands_build_valid_records_with_the_right_key() -> None:
    ack = build_command(CommandRequest(action="ack", alert_id=AID, reason="on it"),
                        role="operator", now=NOW, command_id="c1")
    assert decode_command(encode(ack)) == ack
    assert ack.user == "operator" and command_key(ack) == "rain-HC-01"
    sil = build_command(CommandRequest(action="silence", duration_s=600,
                                       matchers={"group": "camera_analytics",
                                                 "source": "cam-HC-02"}),
                        role="operator", now=NOW, command_id="c2")
    assert sil.until == NOW + 600 and sil.user == "operator"
    assert command_key(sil) == "cam-HC-02"
    by_alert = build_command(CommandRequest(action="silence", matchers={"alert_id": AID},
                                            until=NOW + 60), role="operator",
                             now=NOW, command_id="c3")
    assert command_key(by_alert) == "rain-HC-01"
    lift = build_command(CommandRequest(action="unsilence", silence_id="c2"), role="operator",
                         now=NOW, command_id="c4")
    assert (lift.action, lift.silence_id, command_key(lift)) == ("unsilence", "c2", "c2")
    assert decode_command(encode(lift)) == lift


def test_a_declared_name_is_never_the_audit_user() -> None:
    """Issue 9 defect 8: `"name": "Director Tran"` was recorded as `operator:Director Tran`."""
    req = parse_client(json.dumps({"type": "command", "action": "ack", "alert_id": AID,
                                   "name": "Director Tran"}))
    assert isinstance(req, CommandRequest)
    cmd = build_command(req, role="operator", now=NOW, command_id="c1")
    assert cmd.user == "operator" and "Tran" not in encode(cmd).decode()
    labelled = build_command(req, role="operator", now=NOW, command_id="c2",
                             label="north-desk")
    assert labelled.user == "operator:north-desk"


def test_ids_of_sources_with_colons_can_be_acted_on() -> None:
    """Issue 9 defect 4: `invalid_command ... expected detector:group:source:metric`."""
    aid = alert_id("robust_z", "wastewater", "pump:ST:01", "inflow")
    ack = build_command(CommandRequest(action="ack", alert_id=aid), role="operator", now=NOW,
                        command_id="c1", known=lambda a: a == aid)
    assert ack.alert_id == aid and command_key(ack) == "pump:ST:01"


@pytest.mark.parametrize("matchers", [{"category": "city"}, {"source": "cam-HC-02"},
                                      {"severity": "critical"}])
def test_broad_silences_are_forbidden_to_operators(matchers: dict[str, str]) -> None:
    req = CommandRequest(action="silence", matchers=matchers, duration_s=600)
    with pytest.raises(ProtocolError) as exc:
        build_command(req, role="operator", now=NOW, command_id="c")
    assert (exc.value.code, exc.value.field) == ("forbidden", "matchers")
    assert "supervisor" in exc.value.reason
    ok = build_command(req, role="operator", now=NOW, command_id="c",
                       operators_may_silence_broadly=True)
    assert ok.matchers == matchers


def test_the_longest_silence_is_the_setting() -> None:
    req = CommandRequest(action="silence", matchers={"group": "traffic"},
                         duration_s=30 * 86_400)
    with pytest.raises(ProtocolError) as exc:
        build_command(req, role="operator", now=NOW, command_id="c")
    assert (exc.value.code, exc.value.field) == ("invalid_command", "duration_s")
    assert "86400" in exc.value.reason
    by_until = CommandRequest(action="silence", matchers={"group": "traffic"},
                              until=NOW + 7200)
    with pytest.raises(ProtocolError) as exc:
        build_command(by_until, role="operator", now=NOW, command_id="c", max_silence_s=3600)
    assert (exc.value.code, exc.value.field) == ("invalid_command", "until")
    assert build_command(by_until, role="operator", now=NOW, command_id="c").until == NOW + 7200


@pytest.mark.parametrize(("req", "code", "field"), [
    (CommandRequest(action="ack", alert_id=AID), "forbidden", "action"),
])
def test_leadership_is_forbidden(req: CommandRequest, code: str, field: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        build_command(req, role="leadership", now=NOW, command_id="c")
    assert (exc.value.code, exc.value.field) == (code, field)


@pytest.mark.parametrize(("req", "field"), [
    (CommandRequest(action="wipe"), "action"),
    (CommandRequest(action="ack"), "alert_id"),
    (CommandRequest(action="ack", alert_id="nonsense"), "alert_id"),
    (CommandRequest(action="ack", alert_id="robust_z:atlantis:s:m"), "alert_id"),
    (CommandRequest(action="note", alert_id=AID, text="  "), "text"),
    (CommandRequest(action="silence", matchers={"group": "traffic"}), "until"),
    (CommandRequest(action="silence", matchers={"group": "traffic"}, until=NOW + 5,
                    duration_s=5), "until"),
    (CommandRequest(action="silence", matchers={"group": "traffic"}, duration_s=-1),
     "duration_s"),
    (CommandRequest(action="silence", matchers={"group": "traffic"}, until=NOW - 5), "until"),
    (CommandRequest(action="silence", matchers={"colour": "red"}, duration_s=5), "matchers"),
    (CommandRequest(action="silence", matchers={}, duration_s=5), "matchers"),
    (CommandRequest(action="ack", alert_id=AID, matchers={"group": "x"}), "matchers"),
    (CommandRequest(action="ack", alert_id="robust_z:wastewater:pump:ST:01:inflow"),
     "alert_id"),
    (CommandRequest(action="silence", matchers={"group": "no-such-group"}, duration_s=5),
     "matchers.group"),
    (CommandRequest(action="silence", matchers={"district": "Atlantis"}, duration_s=5),
     "matchers.district"),
    (CommandRequest(action="silence", matchers={"group": "traffic", "severity": "urgent"},
                    duration_s=5), "matchers.severity"),
    (CommandRequest(action="silence", matchers={"group": "traffic", "category": "x"},
                    duration_s=5), "matchers.category"),
    (CommandRequest(action="silence", matchers={"group": "traffic", "source": ""},
                    duration_s=5), "matchers.source"),
    (CommandRequest(action="silence", matchers={"group": "traffic", "metric": "a\tb"},
                    duration_s=5), "matchers.metric"),
    (CommandRequest(action="unsilence"), "silence_id"),
    (CommandRequest(action="ack", alert_id=AID, silence_id="s1"), "silence_id"),
])
def test_invalid_commands_name_the_field(req: CommandRequest, field: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        build_command(req, role="operator", now=NOW, command_id="c")
    assert (exc.value.code, exc.value.field) == ("invalid_command", field)


def test_unknown_alerts_are_refused_when_the_state_is_known() -> None:
    with pytest.raises(ProtocolError) as exc:
        build_command(CommandRequest(action="ack", alert_id=AID), role="operator", now=NOW,
                      command_id="c", known=lambda _: False)
    assert exc.value.field == "alert_id" and "no such alert" in exc.value.reason


def test_delta_frame_is_valid_json_wrapping_the_record() -> None:
    from dashkit import make_alert
    a = make_alert(1)
    frame = json.loads(delta_frame(12, "alert", a))
    assert frame["seq"] == 12 and frame["data"]["alert_id"] == a.alert_id
    assert frame["data"]["type"] == "alert"
