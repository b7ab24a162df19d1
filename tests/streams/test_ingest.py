"""Decoding events messages: valid packs pass, anything invalid becomes a dead letter with its
reason, origin and bytes; the decoder never raises."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.errors import ValidationError
from ioc.events import decode_readings, encode
from streams.ingest import classify, decode_message

TOPIC = "ioc.flooding.events"


def reading(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"group": "flooding", "source": "rain-HC-01",
                               "metric": "rainfall", "value": 1.5, "ts": 1795410000,
                               "district": "Hai Chau"}
    return base | kw


def decode(raw: bytes, group: str = "flooding"):  # type: ignore[no-untyped-def]
    return decode_message(raw, group=group, topic=TOPIC, partition=3, offset=77, now=1.0)


def test_a_valid_pack_decodes_without_dead_letters() -> None:
    d = decode(encode([reading(), reading(value=2.0)]))
    assert [r.value for r in d.readings] == [1.5, 2.0]
    assert d.dead == []


def test_a_dead_letter_carries_reason_field_origin_and_raw_bytes() -> None:
    raw = b'{"group":"flooding"'
    d = decode(raw)
    assert d.readings == []
    (cls, dead), = d.dead
    assert cls == "malformed"
    assert (dead.topic, dead.partition, dead.offset, dead.raw) == (TOPIC, 3, 77, raw)
    assert dead.field == "$" and "JSON" in dead.reason


@pytest.mark.parametrize(("raw", "cls"), [
    (b"", "size"),
    (b"[]", "size"),
    (b"\xff\xfe", "malformed"),
    (b'"a string"', "malformed"),
    (b"42", "malformed"),
    (encode(reading(value="wet")), "invalid"),
    (encode(reading(district="Atlantis")), "invalid"),
    (encode(reading(metric="snowfall")), "invalid"),
    (encode(reading(extra=1)), "invalid"),
    (encode(reading(value=float("inf"))), "invalid"),
])
def test_every_kind_of_bad_message_is_classified(raw: bytes, cls: str) -> None:
    d = decode(raw)
    assert d.readings == [] and [c for c, _ in d.dead] == [cls]


def test_valid_readings_of_a_partly_bad_pack_are_kept() -> None:
    pack = [reading(value=1.0), reading(value="wet"), reading(value=3.0),
            reading(district="Nowhere")]
    d = decode(encode(pack))
    assert [r.value for r in d.readings] == [1.0, 3.0]
    assert sorted(x.field for _, x in d.dead) == ["$[1].value", "$[3].district"]
    for _, x in d.dead:  # each dead letter holds just the bad reading
        assert msgspec.json.decode(x.raw)["source"] == "rain-HC-01"


def test_a_reading_of_another_group_is_dead_lettered() -> None:
    other = reading(group="traffic", source="trf-HC-01", metric="speed", value=30.0)
    d = decode(encode([reading(), other]))
    assert len(d.readings) == 1
    (cls, dead), = d.dead
    assert cls == "wrong_group" and dead.field == "$[1].group"
    assert "traffic" in dead.reason and TOPIC in dead.reason


def test_dead_letters_keep_the_bytes_as_they_came() -> None:
    one = b'{"group":"traffic", "source":"trf-HC-01","metric":"speed","value":30,' \
          b'"ts":1795410000,"district":"Hai Chau"}'
    (_, dead), = decode(one).dead
    assert dead.raw == one and dead.field == "$.group"
    pack = b'[ ' + encode(reading()) + b', ' + one + b']'
    d = decode(pack)
    (_, dead), = d.dead
    assert dead.raw == one and dead.field == "$[1].group" and len(d.readings) == 1
    bad = b'{"group":"flooding","value":  "wet"}'
    (_, dead), = decode(b'[' + encode(reading()) + b',' + bad + b']').dead
    assert dead.raw == bad


def test_classify() -> None:
    assert classify(ValidationError("$", "message is 9 bytes, over the 1 limit")) == "size"
    assert classify(ValidationError("$[0].ts", "needs a UTC offset")) == "invalid"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.lists(st.dictionaries(st.sampled_from(list(reading())),
                                          st.one_of(st.none(), st.integers(), st.text(max_size=8),
                                                    st.floats())),
                          max_size=5).map(lambda x: msgspec.json.encode(x))))
def test_the_decoder_never_raises_and_accounts_for_everything(raw: bytes) -> None:
    d = decode(raw)
    try:
        n = len(decode_readings(raw))
    except ValidationError:
        n = None
    if n is not None:  # a valid message: all readings kept
        assert len(d.readings) == n and not d.dead
    else:
        assert d.dead, "an invalid message must leave a dead letter"
    for _, dead in d.dead:
        assert dead.reason and dead.topic == TOPIC and dead.offset == 77


NOW = 1_795_410_000.0
DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB of nested arrays


def decode_now(raw: bytes):  # type: ignore[no-untyped-def]
    return decode_message(raw, group="flooding", topic=TOPIC, partition=3, offset=77, now=NOW,
                          max_future=300.0)


def test_a_reading_dated_ahead_of_the_wall_clock_is_dead_lettered_as_future() -> None:
    raw = encode(reading(ts=NOW + 3 * 365 * 86400))
    d = decode_now(raw)
    (cls, dead), = d.dead
    assert d.readings == [] and cls == "future" and dead.raw == raw and dead.field == "$.ts"
    assert "2029-11-22" in dead.reason and "IOC_MAX_FUTURE_S=300" in dead.reason
    assert decode_now(encode(reading(ts=NOW + 299))).dead == []


def test_in_a_pack_only_the_future_reading_is_refused_with_its_own_bytes() -> None:
    late = reading(ts=NOW + 3600, value=9.5)
    d = decode_now(b"[" + encode(reading(ts=NOW - 5)) + b" , " + encode(late) + b"]")
    assert [r.epoch for r in d.readings] == [NOW - 5]
    (cls, dead), = d.dead
    assert (cls, dead.field, dead.raw) == ("future", "$[1].ts", encode(late))


@pytest.mark.parametrize("raw", [
    DEEP,
    b"[" + encode(reading()) + b"," + DEEP + b"]",
    b"[" + encode(reading(value="wet")) + b"," + DEEP + b"]",
    b"[" + encode(reading(district="Atlantis")) + b"," + DEEP + b"]",
    b"[" + encode(reading()).replace(b"1.5", DEEP) + b"]",
], ids=["alone", "after-a-good-reading", "after-a-bad-type", "after-a-bad-value",
        "as-a-value-in-a-pack"])
def test_deep_nesting_is_dead_lettered_as_too_deep_without_recursion(raw: bytes) -> None:
    d = decode_now(raw)
    assert d.readings == []
    (cls, dead), = d.dead
    assert cls == "too_deep" and dead.reason.startswith("too deep") and dead.raw == raw


def test_deep_nesting_in_a_single_reading_is_refused_by_its_schema() -> None:
    raw = encode(reading()).replace(b"1.5", DEEP)
    (cls, dead), = decode_now(raw).dead
    assert (cls, dead.field) == ("invalid", "$.value")
