"""Decode benchmark: which JSON decoder should the workers use for readings?

Measures, on realistic messages from the city simulator (single readings and packs):

(a) ``stdlib``: ``json.loads`` plus a hand-written validation of every field, equivalent to the
    event contract (the baseline);
(b) ``msgspec``: :func:`ioc.events.decode_readings` (msgspec Structs, decode and validate in one
    pass);
(c) ``orjson``: ``orjson.loads`` plus the same hand validation, when orjson is installed.

First it checks that the hand validation agrees with the contract (it accepts every good
message, and rejects each bad one that ``decode_readings`` rejects), so the contest is fair.
Prints readings/s per decoder and message shape, the ratio against stdlib, and a last line of
JSON. Run: ``.venv/bin/python benchmarks/decode.py [--seconds S] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import MAX_ID, MAX_PACK, decode_readings, parse_ts
from ioc.tools.anomalies import AnomalyPlan
from ioc.tools.simulator import CitySimulator

START = 1795395600.0  # a Monday, 08:00 in Da Nang
ALLOWED = frozenset({"group", "source", "metric", "ts", "district", "value", "kind", "unit",
                     "lat", "lon", "attrs"})
REQUIRED = ("group", "source", "metric", "ts", "district")


# --- the hand-written validation (mirrors ioc.events.Reading) ----------------------------------


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _opt_str(rec: dict[str, Any], key: str) -> None:
    x = rec.get(key)
    if x is not None and not isinstance(x, str):
        raise ValidationError(key, f"expected a string, got {type(x).__name__}")


def _id(key: str, x: object) -> str:
    if not isinstance(x, str):
        raise ValidationError(key, f"expected a string, got {type(x).__name__}")
    if not x or len(x) > MAX_ID or not x.isprintable():
        raise ValidationError(key, f"must be 1-{MAX_ID} printable characters")
    return x


def check_reading(rec: object) -> dict[str, Any]:
    """Validate one decoded JSON object as a reading; return it with ``ts`` as epoch seconds."""
    if not isinstance(rec, dict):
        raise ValidationError("$", "expected an object")
    extra = rec.keys() - ALLOWED
    if extra:
        raise ValidationError(sorted(extra)[0], "unknown field")
    for key in REQUIRED:
        if key not in rec:
            raise ValidationError(key, "required field is missing")
    for key in ("group", "metric", "district"):
        if not isinstance(rec[key], str):
            raise ValidationError(key, "expected a string")
    spec = catalog.group(rec["group"]).metric(rec["metric"])
    _id("source", rec["source"])
    if rec["district"] not in catalog.DISTRICT_NAMES:
        raise ValidationError("district", "unknown district")
    value, kind = rec.get("value"), rec.get("kind")
    if value is not None and not _is_number(value):
        raise ValidationError("value", "expected a number or null")
    _opt_str(rec, "kind")
    _opt_str(rec, "unit")
    if spec.counted:
        if value is not None:
            raise ValidationError("value", "counted metric: send kind, not value")
        if kind is None:
            raise ValidationError("kind", "counted metric: kind is required")
        _id("kind", kind)
    else:
        if kind is not None:
            raise ValidationError("kind", "measured metric: send value, not kind")
        if value is None:
            raise ValidationError("value", "measured metric: value is required")
        if not math.isfinite(value):
            raise ValidationError("value", "must be finite")
    for key, bound in (("lat", 90.0), ("lon", 180.0)):
        x = rec.get(key)
        if x is not None and (not _is_number(x) or not -bound <= x <= bound):
            raise ValidationError(key, "out of range")
    attrs = rec.get("attrs")
    if attrs is not None and (not isinstance(attrs, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool))
            for k, v in attrs.items())):
        raise ValidationError("attrs", "expected an object of scalars")
    ts = rec["ts"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float, str)):
        raise ValidationError("ts", "expected a number or a string")
    rec["ts"] = parse_ts("ts", ts)
    return rec


def hand_decoder(loads: Callable[[bytes], Any]) -> Callable[[bytes], list[dict[str, Any]]]:
    """A decoder: ``loads`` + :func:`check_reading` on one reading or each of a pack."""

    def decode(raw: bytes) -> list[dict[str, Any]]:
        try:
            doc = loads(raw)
        except ValueError as exc:  # json.JSONDecodeError and orjson.JSONDecodeError
            raise ValidationError("$", f"not valid JSON: {exc}") from None
        if isinstance(doc, list):
            if not doc or len(doc) > MAX_PACK:
                raise ValidationError("$", "pack must hold 1 to 10000 readings")
            return [check_reading(item) for item in doc]
        return [check_reading(doc)]

    return decode


# --- corpus -------------------------------------------------------------------------------------


def corpus(seconds: int) -> dict[str, list[bytes]]:
    """Messages from the simulator: single readings, natural packs, packs of up to 50."""
    plan = AnomalyPlan.random(1, START, seconds, count=max(1, seconds // 900), warmup_s=0)
    shapes: dict[str, list[bytes]] = {}
    for name, size in (("single", 1), ("natural", None), ("pack50", 50)):
        sim = CitySimulator(1, START, seconds, anomalies=plan, pack_size=size)
        shapes[name] = [m.payload() for _t, msgs in sim.messages() for m in msgs]
    return shapes


BAD = [
    b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau","value":"high"}',
    b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau"}',
    b'{"group":"floods","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau","value":1}',
    b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Atlantis","value":1}',
    b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":"noon",'
    b'"district":"Hai Chau","value":1}',
    b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau","value":1,"colour":"red"}',
    b'{"group":"traffic","source":"trf-HC-01","metric":"signal_faults","ts":1795395600,'
    b'"district":"Hai Chau","value":1}',
    b'{"group":"flooding","source":"","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau","value":1}',
    b'{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau","value":1,"lat":91}',
    b'[{"group":"flooding","source":"rain-HC-01","metric":"rainfall","ts":1795395600,'
    b'"district":"Hai Chau","value":1}, 3]',
    b"[]",
    b"{not json",
]


def agree(decoder: Callable[[bytes], list[Any]], shapes: dict[str, list[bytes]]) -> None:
    """Fail loudly unless ``decoder`` accepts the corpus like the contract and rejects BAD."""
    for messages in shapes.values():
        for raw in messages[:2000]:
            mine = decoder(raw)
            theirs = decode_readings(raw)
            assert len(mine) == len(theirs)
            for a, b in zip(mine, theirs, strict=True):
                assert a["ts"] == b.ts and a.get("value") == b.value and a["source"] == b.source
    for raw in BAD:
        for fn in (decoder, decode_readings):
            try:
                fn(raw)
            except ValidationError:
                continue
            raise AssertionError(f"{fn} accepted a bad message: {raw[:80]!r}")


def measure(decoder: Callable[[bytes], list[Any]], messages: list[bytes]) -> float:
    """Readings/s of one pass over ``messages``."""
    n = 0
    began = time.perf_counter()
    for raw in messages:
        n += len(decoder(raw))
    return n / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=1800,
                        help="simulated seconds of messages (default 1800)")
    parser.add_argument("--repeat", type=int, default=5, help="passes; the best counts")
    args = parser.parse_args(argv)

    shapes = corpus(args.seconds)
    decoders: dict[str, Callable[[bytes], list[Any]]] = {
        "stdlib": hand_decoder(json.loads),
        "msgspec": decode_readings,
    }
    try:
        import orjson

        decoders["orjson"] = hand_decoder(orjson.loads)
    except ImportError:
        print("orjson is not installed: measuring stdlib and msgspec only")
    for fn in decoders.values():
        if fn is not decode_readings:
            agree(fn, shapes)
    counts = {s: sum(len(decode_readings(m)) for m in msgs) for s, msgs in shapes.items()}
    sizes = {s: sum(map(len, msgs)) / len(msgs) for s, msgs in shapes.items()}
    print(f"corpus: {args.seconds} simulated seconds; " + "; ".join(
        f"{s}: {len(shapes[s])} messages, {counts[s]} readings, {sizes[s]:.0f} B/message"
        for s in shapes))

    # Passes take turns between decoders, so a busy machine slows them alike; the best counts.
    results: dict[str, dict[str, float]] = {n: dict.fromkeys(shapes, 0.0) for n in decoders}
    for _ in range(args.repeat):
        for s, msgs in shapes.items():
            for name, fn in decoders.items():
                results[name][s] = max(results[name][s], measure(fn, msgs))
    base = results["stdlib"]
    print(f"{'decoder':<10}" + "".join(f"{s:>22}" for s in shapes))
    for name, by_shape in results.items():
        cells = "".join(f"{by_shape[s]:>12,.0f}/s {by_shape[s] / base[s]:>5.2f}x" for s in shapes)
        print(f"{name:<10}{cells}")
    ratios = {name: {s: round(v[s] / base[s], 2) for s in shapes} for name, v in results.items()}
    overall = {name: sum(v.values()) / len(v) for name, v in results.items()}
    chosen = max(overall, key=lambda n: overall[n])
    print(f"fastest validating decoder: {chosen}")
    print(json.dumps({
        "benchmark": "decode",
        "unit": "readings/s",
        "baseline": "stdlib",
        "results": {n: {s: round(x) for s, x in v.items()} for n, v in results.items()},
        "ratio_vs_stdlib": ratios,
        "chosen": chosen,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
