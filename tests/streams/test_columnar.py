"""The columnar path (decode into columns, fold a message with numpy, close from columns)
gives exactly what the reference path (one Reading at a time) gives: the same window
summaries, alerts, refused readings, dead letters and checkpoint states, on random streams with
bad items, late, out-of-order and jumping readings and new sources."""

from __future__ import annotations

import math
import random
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.errors import ValidationError
from ioc.events import decode_readings, encode
from ioc.reading_columns import ReadingColumns, decode_columns
from streams import windows
from streams.budget import SeriesBudget
from streams.ingest import decode_message
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook
from streams.window_columns import fold_columns

T0 = 1_795_410_000.0
NOW = T0 + 10 * 86400
RUNTIME = DetectorRuntime.build()
SOURCES = [("rain-HC-01", "Hai Chau"), ("rain-HC-02", "Hai Chau"), ("rain-TK-01", "Thanh Khe"),
           ("zz-new-01", "Son Tra"), ("zz-new-02", "Lien Chieu")]


def item(rng: random.Random, t: float) -> dict[str, Any]:
    """A reading, or now and then a bad one of some kind."""
    source, district = rng.choice(SOURCES)
    r: dict[str, Any] = {"group": "flooding", "source": source, "metric": "rainfall",
                         "value": round(rng.gauss(2.0, 1.0) + (30 if rng.random() < .03 else 0),
                                        2),
                         "ts": t, "district": district}
    roll = rng.random()
    if roll < 0.02:
        r["value"] = "wet"
    elif roll < 0.04:
        r["district"] = "Da Lat"
    elif roll < 0.05:
        r["group"] = "traffic"
    elif roll < 0.06:
        r["ts"] = "2026-11-23T05:00:00Z"
    elif roll < 0.07:
        r["lat"], r["lon"] = 16.05, 108.2
    elif roll < 0.08:
        r["ts"] = NOW + 86400 * 30  # a jump, or the future
    elif roll < 0.09:
        del r["value"]
    elif roll < 0.10:
        r["metric"] = "flood_depth"
    return r


def stream(seed: int, messages: int, pack: int, lag: float) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    t = T0
    for _ in range(messages):
        items = []
        for _ in range(rng.randint(1, pack)):
            t += rng.uniform(0, 6)
            back = rng.random()
            ts = t - rng.uniform(0, lag) if back < 0.2 else t  # out of order, some late
            items.append(item(rng, round(ts, 3)))
        if rng.random() < 0.05:
            out.append(b"not json")
        elif len(items) == 1 and rng.random() < 0.5:
            out.append(msgspec.json.encode(items[0]))
        else:
            out.append(msgspec.json.encode(items))
    return out


def run(raws: list[bytes], columnar: bool, lateness: float) -> dict[str, Any]:
    p = Pipeline(RUNTIME, AlertBook({}, resolve_after=2), SilenceBook({}), lateness=lateness,
                 max_jump_s=3600.0, budget=SeriesBudget(total=3, per_prefix=2, per_message=2))
    dead, refused, counts = [], [], []
    for offset, raw in enumerate(raws):
        d = decode_message(raw, group="flooding", topic="t", partition=0, offset=offset,
                           now=NOW, max_future=3600.0)
        dead += [(cls, x.field, x.reason, x.raw) for cls, x in d.dead]
        readings = d.readings if columnar else list(d.readings)
        if readings:
            counts.append(p.ingest("flooding", 0, readings, offset=offset, now=NOW))
        refused += [(cls, f, why, encode(r)) for _, _, (cls, f, why, r) in p.take_refused()]
    out = p.take_output()
    return {"summaries": out.summaries, "alerts": out.alerts, "dead": dead, "counts": counts,
            "refused": refused, "states": sorted(p.snapshot({0}))}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 60), st.sampled_from([1, 5, 40]),
       st.sampled_from([0.0, 30.0, 200.0]), st.sampled_from([0.0, 30.0]))
def test_columnar_path_equals_the_reference_path(seed: int, messages: int, pack: int,
                                                 lag: float, lateness: float) -> None:
    raws = stream(seed, messages, pack, lag)
    assert run(raws, True, lateness) == run(raws, False, lateness)


def test_a_long_clean_stream_takes_the_fast_path_and_matches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Many windows of clean packs: the same summaries and alerts, and all messages but the
    first fold without the one-reading path."""
    folded = []

    def counted(*args: Any) -> Any:
        got = fold_columns(*args)
        folded.append(got is not None)
        return got

    monkeypatch.setattr(windows, "fold_columns", counted)
    rng = random.Random(7)
    raws = []
    for minute in range(90):
        spike = 40.0 if minute == 80 else 0.0
        raws.append(msgspec.json.encode([
            {"group": "flooding", "source": s, "metric": "rainfall", "district": d,
             "value": round(2 + rng.gauss(0, .2) + spike, 2), "ts": T0 + 60 * minute + k}
            for k in range(0, 60, 10) for s, d in SOURCES[:3]]))
    fast, ref = run(raws, True, 0.0), run(raws, False, 0.0)
    assert fast == ref
    assert folded.count(False) == 1 and len(folded) == 90
    assert sum(len(v) for v in fast["summaries"].values()) == 89 * 3
    assert any(a.change == "opened" for a in fast["alerts"])


@pytest.mark.parametrize("raw", [
    b"", b"[]", b"  [1]", b"{}", b"[{}]", b"nope", b"\xff[", b'"x"',
    b'[{"group":"flooding","source":"rain-HC-01","metric":"rainfall","value":1e999,'
    b'"ts":1795410000,"district":"Hai Chau"}]',
    b'[{"group":"flooding","source":"rain-HC-01","metric":"rainfall","value":1,'
    b'"ts":1,"district":"Hai Chau"}]',
    b'[{"group":"flooding","source":"rain-HC-01","metric":"rainfall","value":1,'
    b'"ts":1795410000,"district":"Hai Chau","extra":1}]',
    b'{"group":"citizen_feedback","source":"cf-HC-01","metric":"tickets_opened","kind":"app",'
    b'"ts":1795410000,"district":"Hai Chau"}',
    b'[{"group":"flooding","source":"rain HC","metric":"rainfall","value":1,'
    b'"ts":1795410000,"district":"Hai Chau"}]',
])
def test_decode_columns_accepts_and_refuses_like_decode_readings(raw: bytes) -> None:
    try:
        want = decode_readings(raw)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            decode_columns(raw)
        assert (got.value.field, got.value.reason) == (exc.field, exc.reason)
    else:
        cols = decode_columns(raw)
        assert list(cols) == want
        assert cols.values.tolist() == [math.nan if r.value is None else r.value
                                        for r in want] or all(r.value is None for r in want)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 30))
def test_decode_columns_matches_decode_readings_on_random_packs(seed: int, size: int) -> None:
    rng = random.Random(seed)
    raw = msgspec.json.encode([item(rng, T0 + i) for i in range(size)])
    try:
        want = decode_readings(raw)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as got:
            decode_columns(raw)
        assert (got.value.field, got.value.reason) == (exc.field, exc.reason)
        return
    cols = decode_columns(raw)
    assert isinstance(cols, ReadingColumns) and list(cols) == want
    assert cols.sources == [r.source for r in want] and cols.ts.tolist() == [r.ts for r in want]
