"""The event contract: every field valid and invalid, packs, hostile input, record round trips."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc import catalog, validate
from ioc.errors import ValidationError
from ioc.events import (
    MAX_MESSAGE_BYTES,
    MAX_PACK,
    Alert,
    Command,
    DeadLetter,
    Evidence,
    GroupIndicator,
    Incident,
    Reading,
    WindowSummaries,
    WindowSummary,
    alert_id,
    check_silence_policy,
    decode_alert,
    decode_command,
    decode_deadletter,
    decode_indicator,
    decode_indicators,
    decode_readings,
    encode,
    silence_is_broad,
    split_alert_id,
)
from ioc.validate import KNOWN_SOURCES

TS = 1_795_410_000.0


def measured(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"group": "flooding", "source": "flood-HC-01", "metric": "flood_depth",
                            "value": 12.5, "ts": TS, "district": "Hai Chau"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


def counted(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"group": "citizen_feedback", "source": "cf-HC-01",
                            "metric": "tickets_opened", "kind": "hotline", "ts": TS,
                            "district": "Hai Chau"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def raw(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def error_of(payload: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        decode_readings(payload)
    return info.value


# --- valid readings ----------------------------------------------------------------------


def test_measured_reading_decodes_with_every_optional_field() -> None:
    r = decode_readings(raw(measured(unit="cm", lat=16.05, lon=108.2,
                                     attrs={"battery": 87, "model": "US-200", "ok": True})))[0]
    assert (r.group, r.source, r.metric, r.value, r.epoch) == (
        "flooding", "flood-HC-01", "flood_depth", 12.5, TS)
    assert r.unit == "cm" and r.lat == 16.05 and r.attrs == {"battery": 87, "model": "US-200",
                                                             "ok": True}
    assert not r.counted


def test_counted_event_decodes_without_value() -> None:
    r = decode_readings(raw(counted()))[0]
    assert r.counted and r.kind == "hotline" and r.value is None


@pytest.mark.parametrize("ts", ["2026-11-23T05:00:00Z", "2026-11-23T12:00:00+07:00",
                                "2026-11-23T05:00:00.000+00:00", TS, int(TS)])
def test_timestamps_in_rfc3339_or_epoch_become_epoch_seconds(ts: Any) -> None:
    assert decode_readings(raw(measured(ts=ts)))[0].epoch == TS


def test_integer_value_is_accepted_as_float() -> None:
    assert decode_readings(raw(measured(value=3)))[0].value == 3.0


def test_pack_decodes_every_reading_in_order() -> None:
    pack = [measured(value=float(i)) for i in range(50)] + [counted()]
    readings = decode_readings(raw(pack))
    assert [r.value for r in readings[:50]] == [float(i) for i in range(50)]
    assert readings[-1].counted


def test_encode_then_decode_round_trips() -> None:
    r = decode_readings(raw(measured(ts="2026-11-23T05:00:00Z")))[0]
    assert decode_readings(encode(r)) == [r]
    assert decode_readings(encode([r, r])) == [r, r]


# --- invalid fields: which field, and why -------------------------------------------------

FIELD_CASES: list[tuple[dict[str, Any], str, str]] = [
    (measured(group="sewers"), "$.group", "unknown group 'sewers'"),
    (measured(group=7), "$.group", "expected `str`, got `int`"),
    (measured(source=""), "$.source", "1-128 printable characters"),
    (measured(source="x" * 129), "$.source", "1-128 printable characters"),
    (measured(source="a\nb"), "$.source", "printable"),
    (measured(metric="depth"), "$.metric", "unknown metric 'depth' for group 'flooding'"),
    (measured(value=_DROP), "$.value", "is measured: `value` is required"),
    (measured(value="12"), "$.value", "expected `float | null`, got `str`"),
    (measured(value=True), "$.value", "expected `float | null`, got `bool`"),
    (measured(kind="hotline"), "$.kind", "is measured: send `value`, not `kind`"),
    (counted(value=1.0), "$.value", "counts events: send `kind`, not `value`"),
    (counted(kind=_DROP), "$.kind", "counts events: `kind` is required"),
    (measured(ts=_DROP), "$.ts", "required field is missing"),
    (measured(ts="yesterday"), "$.ts", "not an RFC 3339 timestamp"),
    (measured(ts="2026-11-23 05:00"), "$.ts", "needs a UTC offset"),
    (measured(ts=-1), "$.ts", "outside years 2000-2100"),
    (measured(ts=[TS]), "$.ts", "expected `float | str`, got `array`"),
    (measured(district="Da Lat"), "$.district", "unknown district 'Da Lat'"),
    (measured(district=_DROP), "$.district", "required field is missing"),
    (measured(lat=91.0), "$.lat", "within -90..90"),
    (measured(lon=-181.0), "$.lon", "within -180..180"),
    (measured(attrs={"nested": {"a": 1}}), "$.attrs[...]",
     "got `object`"),
    (measured(extra=1), "$.extra", "unknown field"),
]


@pytest.mark.parametrize(("payload", "field", "reason"), FIELD_CASES,
                         ids=[c[1] + ":" + c[2][:20] for c in FIELD_CASES])
def test_invalid_field_is_named_with_the_reason(payload: dict[str, Any], field: str,
                                                reason: str) -> None:
    err = error_of(raw(payload))
    assert err.field == field
    assert reason in err.reason


def test_bad_reading_inside_a_pack_is_located_by_index() -> None:
    pack = [measured(), measured(), measured(district="Mars")]
    err = error_of(raw(pack))
    assert err.field == "$[2].district"
    err = error_of(raw([measured(), measured(value="x")]))
    assert err.field == "$[1].value"



# --- a source seen before is checked as strictly as a new one -------------------------------


def outcome(payload: bytes) -> list[Reading] | tuple[str, str]:
    try:
        return decode_readings(payload)
    except ValidationError as exc:
        return exc.field, exc.reason


def cold(payload: bytes) -> list[Reading] | tuple[str, str]:
    """The outcome with no source remembered: every check runs from the start."""
    KNOWN_SOURCES.clear()
    return outcome(payload)


@pytest.mark.parametrize(("payload", "field", "reason"), FIELD_CASES,
                         ids=[c[1] + ":" + c[2][:20] for c in FIELD_CASES])
def test_a_known_source_gets_the_same_error_as_a_new_one(payload: dict[str, Any], field: str,
                                                         reason: str) -> None:
    expected = cold(raw(payload))
    decode_readings(raw(measured()))  # the source is now known in its group and district
    assert outcome(raw(payload)) == expected


_FIELD_VALUES: dict[str, list[Any]] = {
    "group": ["flooding", "traffic", "citizen_feedback", "sewers"],
    "metric": ["flood_depth", "rainfall", "speed", "tickets_opened", "x"],
    "source": ["flood-HC-01", "trf-HC-01", "", "a\tb"],
    "district": ["Hai Chau", "Son Tra", "Mars"],
    "value": [12.5, None, 1e999],
    "kind": [None, "hotline", ""],
    "lat": [None, 16.0, 91.0],
    "lon": [None, 108.2, -181.0],
    "ts": [TS, "2026-11-23T05:00:00Z", "noon", 1.0],
}
# valid readings, each changed in up to three fields (to valid or invalid values)
_IDENTITIES = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from([measured(), counted(), measured(group="traffic", source="trf-HC-01",
                                                     metric="speed", district="Son Tra")]),
    st.dictionaries(st.sampled_from(sorted(_FIELD_VALUES)), st.integers(0, 4), max_size=3).map(
        lambda picks: {k: _FIELD_VALUES[k][i % len(_FIELD_VALUES[k])] for k, i in picks.items()}),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_IDENTITIES, min_size=2, max_size=6))
def test_remembered_sources_never_change_an_outcome(items: list[dict[str, Any]]) -> None:
    """Each reading of a sequence decodes (or fails) exactly as it would with nothing
    remembered, whatever the readings before it taught the decoder."""
    bodies = [raw({k: v for k, v in item.items() if v is not None}).replace(
        b"Infinity", b"1e999") for item in items]
    expected = [cold(body) for body in bodies]
    KNOWN_SOURCES.clear()
    assert [outcome(body) for body in bodies] == expected


def test_remembered_sources_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "KNOWN_SOURCES_MAX", 3)
    KNOWN_SOURCES.clear()
    for i in range(10):
        assert decode_readings(raw(measured(source=f"flood-HC-{i:02d}")))[0].value == 12.5
        assert len(KNOWN_SOURCES) <= 3


# --- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "reason"), [
    (b"", "empty message"),
    (b"   ", "expected a JSON object"),
    (b"[]", "empty pack"),
    (b"null", "expected a JSON object"),
    (b"42", "expected a JSON object"),
    (b'"reading"', "expected a JSON object"),
    (b"\xff\xfe\x00{", "expected a JSON object"),
    (b'{"group": "flooding", \xff}', "not valid JSON"),
    (b'{"group":"flooding","source":"s\xc3","metric":"rainfall"}', "not valid UTF-8"),
    (b"{", "not valid JSON"),
    (b'{"value": NaN}', "not valid JSON"),
    (b'{"value": Infinity}', "not valid JSON"),
])
def test_hostile_bytes_give_a_precise_error(payload: bytes, reason: str) -> None:
    assert reason in error_of(payload).reason


def test_huge_number_is_refused_not_turned_into_infinity() -> None:
    body = raw(measured()).replace(b"12.5", b"1e999")
    err = error_of(body)
    assert err.field == "$.value" and "out of range" in err.reason


def test_deeply_nested_input_does_not_crash() -> None:
    err = error_of(b"[" * 200_000 + b"]" * 200_000)
    assert err.field.startswith("$[0]")
    err = error_of(b'{"attrs":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001)
    assert err.field.startswith("$")


def test_ten_megabyte_message_is_refused_by_size() -> None:
    big = b"[" + b",".join([raw(measured())] * 80_000) + b"]"
    assert len(big) > 10 * 1_000_000
    err = error_of(big)
    assert f"over the {MAX_MESSAGE_BYTES} limit" in err.reason


def test_pack_over_the_limit_is_refused() -> None:
    item = b'{"group":"flooding","source":"s","metric":"rainfall","value":1,"ts":1795410000,' \
           b'"district":"Hai Chau"}'
    body = b"[" + b",".join([item] * (MAX_PACK + 1)) + b"]"
    if len(body) <= MAX_MESSAGE_BYTES:
        assert "over 10000" in error_of(body).reason
    else:
        assert "limit" in error_of(body).reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_decode_or_raise_validation_error(payload: bytes) -> None:
    try:
        readings = decode_readings(payload)
    except ValidationError as exc:
        assert exc.field.startswith("$") and exc.reason
    else:
        assert all(isinstance(r, Reading) for r in readings)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["group", "source", "metric", "value", "kind", "ts",
                                        "district", "unit", "lat", "lon", "attrs"]),
                       json_values, max_size=11))
def test_arbitrary_json_objects_never_crash(obj: dict[str, Any]) -> None:
    try:
        decode_readings(raw(obj))
    except ValidationError as exc:
        assert exc.field.startswith("$")


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_every_finite_value_round_trips(value: float) -> None:
    r = decode_readings(raw(measured(value=value)))[0]
    assert r.value == value and math.isfinite(r.value)


# --- other records ------------------------------------------------------------------------


def _evidence() -> Evidence:
    return Evidence(window_start=TS, window_end=TS + 60, value=34.0, baseline=2.0, threshold=20.0,
                    score=0.97, raw=9.1, detector="robust_z", detector_version="1.0",
                    params={"window": 32}, recent=[2.0, 2.5, 34.0])


def test_alert_and_incident_share_the_alerts_topic_with_a_tag() -> None:
    a = Alert(alert_id=alert_id("robust_z", "flooding", "flood-HC-01", "flood_depth"), version=1,
              status="firing", severity="major", category="city", group="flooding",
              district="Hai Chau", source="flood-HC-01", metric="flood_depth",
              detector="robust_z", title="Flood depth 34 cm", first_seen=TS, last_seen=TS,
              count=1, updated_at=TS, change="opened", evidence=_evidence())
    i = Incident(incident_id="inc:Hai Chau:1", version=1, status="open", district="Hai Chau",
                 groups=["flooding", "traffic"], alert_ids=[a.alert_id], severity="major",
                 title="Hai Chau: flooding + traffic", first_seen=TS, last_seen=TS, updated_at=TS)
    assert decode_alert(encode(a)) == a
    assert decode_alert(encode(i)) == i
    assert json.loads(encode(a))["type"] == "alert"


def test_indicator_records_round_trip() -> None:
    w = WindowSummary(group="flooding", source="flood-HC-01", metric="flood_depth",
                      district="Hai Chau", start=TS, end=TS + 60, count=6, mean=2.0, min=1.0,
                      max=3.0, last=2.0, std=0.5)
    g = GroupIndicator(group="flooding", district="Hai Chau", start=TS, end=TS + 60,
                       sources_reporting=3, sources_expected=3, sources_in_breach=1,
                       open_alerts={"major": 1}, kpis={"max_depth": 34.0})
    assert decode_indicator(encode(w)) == w and decode_indicator(encode(g)) == g


def _pack(**changes: Any) -> dict[str, Any]:
    cols = {"type": "windows", "group": "flooding", "metric": "flood_depth", "start": TS,
            "end": TS + 60, "counted": False, "source": ["flood-HC-01", "flood-HC-02"],
            "district": ["Hai Chau", "Hai Chau"], "count": [6, 0], "mean": [2.0, 0.0],
            "min": [1.0, 0.0], "max": [3.0, 0.0], "last": [2.0, 0.0], "std": [0.5, 0.0],
            "late": [1, 0], "dropped": [0, 2], "in_breach": [True, False]}
    return {**cols, **changes}


def test_a_pack_of_summary_columns_reads_as_one_summary_per_row() -> None:
    got = decode_indicators(json.dumps(_pack()).encode())
    assert got == [
        WindowSummary("flooding", "flood-HC-01", "flood_depth", "Hai Chau", TS, TS + 60, 6,
                      2.0, 1.0, 3.0, 2.0, 0.5, late=1, in_breach=True),
        WindowSummary("flooding", "flood-HC-02", "flood_depth", "Hai Chau", TS, TS + 60, 0,
                      0.0, 0.0, 0.0, 0.0, 0.0, dropped=2)]
    pack = msgspec.json.decode(json.dumps(_pack()), type=WindowSummaries)
    assert decode_indicators(encode(pack.part(1, 2))) == got[1:]


@pytest.mark.parametrize(("changes", "says"), [
    ({"mean": [2.0]}, "column mean has 1 rows, source has 2"),
    ({"count": [6, "six"]}, "$.count[1]"),
    ({"source": None}, "$.source"),
])
def test_a_bad_pack_of_summary_columns_is_refused_naming_what(changes: dict[str, Any],
                                                             says: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(says)):
        decode_indicators(json.dumps(_pack(**changes)).encode())


def test_deadletter_keeps_raw_bytes_exactly() -> None:
    d = DeadLetter(reason="not valid UTF-8", field="$", topic="ioc.flooding.events", partition=2,
                   offset=17, raw=b"\xff\x00garbage", ts=TS)
    assert decode_deadletter(encode(d)).raw == b"\xff\x00garbage"


@pytest.mark.parametrize(("cmd", "field"), [
    ({"action": "ack"}, "alert_id"),
    ({"action": "note", "alert_id": "d:traffic:s:m"}, "text"),
    ({"action": "ack", "alert_id": "robust_z:wastewater:pump:ST:01:inflow"}, "alert_id"),
    ({"action": "unsilence"}, "silence_id"),
    ({"action": "silence", "matchers": {"group": "no-such-group"}, "until": TS + 60},
     "matchers.group"),
    ({"action": "silence", "matchers": {"district": "Atlantis"}, "until": TS + 60},
     "matchers.district"),
    ({"action": "silence", "matchers": {"severity": "urgent"}, "until": TS + 60},
     "matchers.severity"),
    ({"action": "silence", "matchers": {"category": "roads"}, "until": TS + 60},
     "matchers.category"),
    ({"action": "silence", "matchers": {"group": "traffic", "source": ""}, "until": TS + 60},
     "matchers.source"),
    ({"action": "silence", "matchers": {"group": "traffic", "metric": "a\x00b"},
      "until": TS + 60}, "matchers.metric"),
    ({"action": "silence", "matchers": {"alert_id": "d:no-such-group:s:m"}, "until": TS + 60},
     "matchers.alert_id"),
    ({"action": "silence", "matchers": {"alert_id": "a:b"}, "until": TS + 60},
     "matchers.alert_id"),
    ({"action": "silence"}, "matchers"),
    ({"action": "silence", "matchers": {"colour": "red"}, "until": TS + 60}, "matchers"),
    ({"action": "silence", "matchers": {"group": "traffic"}}, "until"),
    ({"action": "reboot", "alert_id": "a"}, "$.action"),
    ({"action": "ack", "alert_id": "a", "user": ""}, "user"),
])
def test_invalid_commands_name_the_field(cmd: dict[str, Any], field: str) -> None:
    body = {"command_id": "c1", "user": "lan", "ts": TS, **cmd}
    with pytest.raises(ValidationError) as info:
        decode_command(raw(body))
    assert info.value.field == field


def test_valid_silence_command() -> None:
    c = decode_command(raw({"command_id": "c1", "action": "silence", "user": "lan", "ts": TS,
                            "matchers": {"group": "traffic", "district": "Son Tra"},
                            "until": TS + 3600, "reason": "road works"}))
    assert isinstance(c, Command) and c.matchers == {"group": "traffic", "district": "Son Tra"}


def test_every_catalog_metric_accepts_a_reading_of_its_kind() -> None:
    for g in catalog.CATALOG:
        for kind in g.source_kinds:
            src = g.sources()[0]
            for m in kind.metrics:
                payload = {"group": g.slug, "source": src.id, "metric": m.name, "ts": TS,
                           "district": src.district}
                payload.update({"kind": m.event_kinds[0]} if m.counted else {"value": m.base})
                assert decode_readings(raw(payload))[0].metric == m.name


def test_msgspec_is_the_decoder() -> None:
    assert isinstance(msgspec.json.Decoder, type)


# --- alert ids, silence policy (issue 9, defects 3 and 4) ------------------------------------

_SOURCE_IDS = st.text(st.characters(codec="utf-8").filter(str.isprintable), min_size=1,
                      max_size=128)


@given(detector=st.sampled_from(["robust_z", "stuck", "x:y", "50%"]),
       group=st.sampled_from(sorted(catalog.GROUP_SLUGS)), source=_SOURCE_IDS,
       metric=st.sampled_from(["flow", "speed", "a:b"]))
def test_split_alert_id_is_the_exact_inverse_of_alert_id(detector: str, group: str,
                                                          source: str, metric: str) -> None:
    aid = alert_id(detector, group, source, metric)
    assert aid.count(":") == 3
    assert split_alert_id(aid) == (detector, group, source, metric)


@pytest.mark.parametrize("source", ["rain-HC-01", "cam_HC.02", "trf/HC/01", "a b", "Đà-Nẵng"])
def test_ordinary_alert_ids_are_unchanged(source: str) -> None:
    assert alert_id("robust_z", "flooding", source, "rainfall") == \
        f"robust_z:flooding:{source}:rainfall"


def _silence(user: str = "operator", length: float = 3600.0, **matchers: str) -> Command:
    return Command(command_id="s1", action="silence", user=user, ts=TS, until=TS + length,
                   matchers=matchers)


@pytest.mark.parametrize("matchers", [{"category": "city"}, {"source": "pump:ST:01"},
                                      {"severity": "critical", "metric": "flow"}])
def test_a_broad_silence_needs_the_supervisor_role(matchers: dict[str, str]) -> None:
    assert silence_is_broad(matchers)
    with pytest.raises(ValidationError) as info:
        check_silence_policy(_silence(**matchers), max_silence_s=86400.0,
                             operators_may_silence_broadly=False)
    assert info.value.field == "matchers" and "supervisor" in info.value.reason
    check_silence_policy(_silence(user="supervisor", **matchers), max_silence_s=86400.0,
                         operators_may_silence_broadly=False)
    check_silence_policy(_silence(**matchers), max_silence_s=86400.0,
                         operators_may_silence_broadly=True)


@pytest.mark.parametrize("matchers", [{"group": "traffic"}, {"district": "Hai Chau"},
                                      {"alert_id": "robust_z:traffic:trf-HC-01:speed"},
                                      {"group": "traffic", "category": "city"}])
def test_one_group_one_district_or_one_alert_is_not_broad(matchers: dict[str, str]) -> None:
    assert not silence_is_broad(matchers)
    check_silence_policy(_silence(**matchers), max_silence_s=86400.0,
                         operators_may_silence_broadly=False)


def test_the_longest_silence_is_a_limit() -> None:
    check_silence_policy(_silence(length=86400.0, group="traffic"), max_silence_s=86400.0,
                         operators_may_silence_broadly=False)
    with pytest.raises(ValidationError) as info:
        check_silence_policy(_silence(length=30 * 86400.0, group="traffic"),
                             max_silence_s=86400.0, operators_may_silence_broadly=False)
    assert info.value.field == "until" and "at most 86400 s" in info.value.reason


def test_unsilence_names_the_silence_it_lifts() -> None:
    c = decode_command(raw({"command_id": "c2", "action": "unsilence", "user": "operator",
                            "ts": TS, "silence_id": "c1"}))
    assert (c.action, c.silence_id, c.role) == ("unsilence", "c1", "operator")
