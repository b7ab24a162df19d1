"""10,000 malformed messages mixed into valid traffic on a real broker: every one is
dead-lettered with its reason, origin and bytes, every valid reading is processed, and the
worker never restarts."""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest
from _worker_harness import MIDNIGHT, Env, Trail, running

from ioc.events import encode
from ioc.tools.simulator import CitySimulator

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MALFORMED = 10_000


def bad_messages(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(group, key, value) of messages that break the contract in ten different ways."""
    good = {"group": "flooding", "source": "rain-HC-01", "metric": "rainfall", "value": 1.0,
            "ts": MIDNIGHT + 60, "district": "Hai Chau"}
    kinds = [
        lambda i: b"",                                              # empty
        lambda i: b"{\"group\": \"flooding\", ",                    # truncated JSON
        lambda i: b"\xff\xfe\x00" + bytes([i % 256]),                # not UTF-8
        lambda i: encode(f"just a string {i}"),                     # not an object
        lambda i: encode(good | {"value": f"wet-{i}"}),             # wrong type
        lambda i: encode(good | {"district": "Atlantis"}),          # unknown district
        lambda i: encode(good | {"metric": "snowfall"}),            # unknown metric
        lambda i: encode(good | {"ts": "yesterday"}),               # bad timestamp
        lambda i: encode([good | {"value": None}]),                 # pack with a bad reading
        lambda i: encode(good | {"group": "traffic", "source": "trf-HC-01",  # wrong topic
                                 "metric": "speed", "value": 30.0}),
    ]
    out = []
    for i in range(MALFORMED):
        value = kinds[i % len(kinds)](i)
        out.append(("flooding", f"bad-{rng.randrange(50)}", value))
    return out


def test_malformed_messages_are_dead_lettered_and_valid_readings_processed(
        kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    env = Env(kafka_bootstrap, tmp_path_factory.mktemp("deadletter"))
    dead = Trail(env, env.names.deadletter)
    rng = random.Random(5)
    bad = bad_messages(rng)
    try:
        with running(env.worker()) as (w,):
            w.wait_ready()
            assert w.proc is not None
            pid = w.proc.pid
            sim = CitySimulator(seed=8, start=MIDNIGHT, duration=20 * 60, groups=["flooding"])
            valid = 0
            queue = list(bad)
            for _t, msgs in sim.messages():
                for m in msgs:
                    env.send_raw("flooding", m.key, m.payload())
                    valid += len(m.readings)
                    for _ in range(3):
                        if queue:
                            env.send_raw(*queue.pop())
            for item in queue:
                env.send_raw(*item)
            env.producer.flush(60)
            started = time.monotonic()
            metrics = w.wait_readings(valid, timeout=300)
            letters = dead.wait(lambda t: len(t.dead_letters()) >= MALFORMED and t.dead_letters(),
                                120, f"{MALFORMED} dead letters")
            dead.settle()
            metrics = w.metrics()
            assert w.proc.poll() is None and w.proc.pid == pid, "the worker restarted"
            health = w.health()
            assert health is not None and health["recoveries"] == 1
            assert health["uptime_s"] >= time.monotonic() - started
        assert metrics["ioc_worker_readings_total"] == valid
        assert metrics.get("ioc_worker_dropped_readings_total", 0) == 0
        letters = dead.dead_letters()
        assert len(letters) == MALFORMED
        assert metrics["ioc_worker_deadletter_total"] == MALFORMED
        # every refused message, byte for byte, with a reason and its origin
        sent = Counter(v for _, _, v in bad)
        got = Counter(x.raw for x in letters if not x.field.startswith("$[0]"))
        pack_items = [x for x in letters if x.field.startswith("$[0]")]
        assert len(pack_items) == MALFORMED // 10  # the bad reading of each bad pack
        assert sum(got.values()) + len(pack_items) == MALFORMED
        assert got == sent - Counter(v for _, _, v in bad if v.startswith(b"[{"))
        assert all(x.reason and x.topic == env.names.events("flooding") for x in letters)
        assert all(0 <= x.partition < env.partitions and x.offset >= 0 for x in letters)
        assert len({(x.partition, x.offset) for x in letters}) == MALFORMED
        reasons = Counter(x.field for x in letters)
        assert reasons["$"] >= 4 * MALFORMED // 10
        assert reasons["$.group"] == MALFORMED // 10
    finally:
        dead.close()
        env.close()
