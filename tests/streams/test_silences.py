"""Silences: made from commands, matched on alert fields, ended by time, shared by a store."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ioc.errors import ValidationError
from ioc.events import Command
from streams.silences import Silence, SilenceBook, SilencePolicy

T0 = 1_795_410_000.0
FIELDS = {"alert_id": "robust_z:traffic:trf-HC-01:speed", "group": "traffic",
          "district": "Hai Chau", "source": "trf-HC-01", "metric": "speed",
          "detector": "robust_z", "category": "city"}


def silence(cid: str = "s1", until: float = T0 + 3600, **matchers: str) -> Command:
    return Command(command_id=cid, action="silence", user="lan", ts=T0, reason="roadworks",
                   matchers=matchers or {"group": "traffic"}, until=until)


def test_add_stores_a_silence_with_who_why_and_until() -> None:
    store: dict[str, bytes] = {}
    s = SilenceBook(store).add(silence(district="Hai Chau", group="traffic"))
    assert s == Silence(silence_id="s1", matchers={"district": "Hai Chau", "group": "traffic"},
                        until=T0 + 3600, user="lan", reason="roadworks", created=T0)
    assert list(store) == ["s1"] and isinstance(store["s1"], bytes)


def test_add_is_idempotent_by_command_id() -> None:
    store: dict[str, bytes] = {}
    book = SilenceBook(store)
    first = book.add(silence())
    raw = store["s1"]
    assert book.add(silence(until=T0 + 99999)) == first
    assert store["s1"] is raw


@pytest.mark.parametrize(("matchers", "hit"), [
    ({"group": "traffic"}, True),
    ({"group": "traffic", "district": "Hai Chau"}, True),
    ({"alert_id": "robust_z:traffic:trf-HC-01:speed"}, True),
    ({"category": "city", "metric": "speed", "source": "trf-HC-01"}, True),
    ({"group": "traffic", "district": "Son Tra"}, False),
    ({"detector": "cusum"}, False),
    ({"category": "sensor_health"}, False),
])
def test_every_matcher_must_equal_the_alert_field(matchers: dict[str, str], hit: bool) -> None:
    book = SilenceBook({})
    book.add(Command(command_id="s1", action="silence", user="lan", ts=T0, matchers=matchers,
                     until=T0 + 60))
    assert (book.match(FIELDS, T0 + 10) is not None) is hit


def test_a_silence_ends_at_until() -> None:
    book = SilenceBook({})
    book.add(silence(until=T0 + 600))
    assert book.match(FIELDS, T0 + 599.9) is not None
    assert book.match(FIELDS, T0 + 600) is None
    assert book.active(T0 + 600) == []


def test_of_several_matching_silences_the_one_ending_last_wins() -> None:
    book = SilenceBook({})
    book.add(silence("a", until=T0 + 600))
    book.add(silence("b", until=T0 + 1800, source="trf-HC-01"))
    book.add(silence("c", until=T0 + 900, group="traffic"))
    book.add(silence("d", until=T0 + 9000, group="flooding"))
    hit = book.match(FIELDS, T0)
    assert hit is not None and hit.silence_id == "b"
    assert [s.silence_id for s in book.active(T0)] == ["a", "c", "b", "d"]


def test_purge_removes_ended_silences_only() -> None:
    store: dict[str, bytes] = {}
    book = SilenceBook(store)
    book.add(silence("a", until=T0 + 600))
    book.add(silence("b", until=T0 + 1800))
    assert book.purge(T0 + 700) == ["a"]
    assert list(store) == ["b"] and book.get("a") is None


def test_two_books_on_one_store_see_the_same_silences() -> None:
    store: dict[str, bytes] = {}
    SilenceBook(store).add(silence())
    other = SilenceBook(store)
    assert other.match(FIELDS, T0) is not None
    store.pop("s1")
    assert other.match(FIELDS, T0) is None


def test_the_cache_follows_a_replaced_value() -> None:
    a, b = SilenceBook({}), SilenceBook({})
    a.add(silence(until=T0 + 600))
    b.store = a.store
    assert b.match(FIELDS, T0 + 700) is None
    c = SilenceBook({})
    c.add(silence(until=T0 + 6000))
    a.store["s1"] = c.store["s1"]                               # the changelog moved on
    assert b.match(FIELDS, T0 + 700) is not None


@pytest.mark.parametrize(("kw", "field"), [
    ({"action": "ack", "alert_id": "a:b:c:d"}, "action"),
])
def test_non_silence_commands_are_refused(kw: dict[str, Any], field: str) -> None:
    cmd = Command(command_id="x", user="lan", ts=T0, **kw)
    with pytest.raises(ValidationError) as info:
        SilenceBook({}).add(cmd)
    assert info.value.field == field


def test_silence_commands_are_validated_on_decode() -> None:
    with pytest.raises(ValidationError, match="unknown fields"):
        silence(colour="red")
    with pytest.raises(ValidationError, match="end time"):
        silence(until=T0 - 1)


# --- unsilence, policy, stored format (issue 9, defect 3) ------------------------------------

def unsilence(sid: str = "s1", cid: str = "u1", at: float = T0 + 60) -> Command:
    return Command(command_id=cid, action="unsilence", user="operator", ts=at, silence_id=sid)


def test_lift_ends_a_silence_before_its_time_and_remembers_who() -> None:
    store: dict[str, bytes] = {}
    book = SilenceBook(store)
    book.add(silence())
    lifted = book.lift(unsilence())
    assert (lifted.lifted_at, lifted.lifted_by) == (T0 + 60, "operator")
    assert book.match(FIELDS, T0 + 61) is None and book.active(T0 + 61) == []
    assert SilenceBook(store).get("s1") == lifted                 # in the shared store
    assert book.lift(unsilence(cid="u2", at=T0 + 90)) == lifted   # idempotent
    assert book.add(silence()) == lifted                          # a replayed silence too
    assert book.purge(T0 + 120) == [] and book.purge(T0 + 3600) == ["s1"]


def test_lift_refuses_unknown_silences_and_other_commands() -> None:
    book = SilenceBook({})
    with pytest.raises(ValidationError) as info:
        book.lift(unsilence("nope"))
    assert info.value.field == "silence_id"
    with pytest.raises(ValidationError) as info:
        book.lift(silence())
    assert info.value.field == "action"


def test_silences_stored_before_unsilence_existed_still_decode() -> None:
    old = msgspec.msgpack.encode({"silence_id": "s1", "matchers": {"group": "traffic"},
                                  "until": T0 + 600, "user": "lan", "reason": "",
                                  "created": T0})
    s = SilenceBook({"s1": old}).get("s1")
    assert s is not None and s.lifted_at is None and s.active(T0)


@pytest.mark.parametrize(("cmd", "field"), [
    (Command(command_id="a", action="silence", user="operator", ts=T0, until=T0 + 90_000,
             matchers={"group": "traffic"}), "until"),
    (Command(command_id="b", action="silence", user="operator", ts=T0, until=T0 + 60,
             matchers={"detector": "cusum"}), "matchers"),
])
def test_the_policy_refuses_long_and_broad_silences(cmd: Command, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        SilencePolicy().check(cmd)
    assert info.value.field == field
    SilencePolicy(max_silence_s=1e6, operators_may_silence_broadly=True).check(cmd)
