"""Ingest benchmark: readings/s into Kafka through the MQTT bridge and the HTTP API, each against
a bare loop on the same brokers in the same run.

MQTT (needs Mosquitto and Kafka): ``--messages`` numbered JSON messages are queued in
Mosquitto for an offline persistent session (QoS 1), then the contender connects and drains
them into Kafka; timed until the events topic holds them all.

(a) ``bare``: paho subscribe with automatic acks, ``json.loads``, one record per message to a
    kafka-python producer (``acks=all``): no mapping, no validation, no ack after Kafka;
(b) ``bridge``: :func:`ingest.run.run_bridge` (mapping, validation, manual acks in order
    once Kafka confirmed, dedupe headers).

HTTP: ``--batches`` batches of ``--batch`` readings. (a) ``bare``: an aiokafka producer sends
the batches' records and awaits them; (b) ``api``: the same batches posted to ``ioc ingest
http`` (``POST /api/v1/readings``) with an ingest key, each answered 202 once in Kafka.

Target: bridge >= 0.7x bare. Prints wall and CPU-time ratios (the machine is shared) and a
last line of JSON.

Run: ``IOC_TEST_BOOTSTRAP=host:port IOC_TEST_MQTT_URL=mqtt://host:port .venv/bin/python
benchmarks/ingest.py [--messages N] [--batches B --batch S] [--contender-first]``
(alternate ``--contender-first`` between runs; ``scripts/test.sh`` starts
both for the tests; ``scripts/kafka.sh`` and ``scripts/mosquitto.sh`` start them by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# this file is named like the package it measures: import the package, not this file
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

MAPPING = '''
[[mapping]]
topic = "{root}/n/{source}"
group = "flooding"
source = "{source}"
district = "Hai Chau"
ts = "$.ts"
[[mapping.metrics]]
metric = "rainfall"
value = "$.n"
'''


class Stored:
    """How many records a topic holds (one consumer, reused: the poll must not load the
    process it measures)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        self.parts = [TopicPartition(topic, p)
                      for p in self.consumer.partitions_for_topic(topic) or ()]

    def __call__(self) -> int:
        return sum(self.consumer.end_offsets(self.parts).values())

    def close(self) -> None:
        self.consumer.close()


def make_topics(bootstrap: str, prefix: str) -> None:
    from ioc.kafka.admin import TopicSpec, ensure_topics

    ensure_topics([TopicSpec(f"{prefix}.flooding.events", 4, 1),
                   TopicSpec(f"{prefix}.deadletter", 1, 1)], bootstrap)


def mqtt_client(url: str, client_id: str, **kw: Any) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, **kw)
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(1000)
    p = urlsplit(url)
    c.connect(p.hostname or "127.0.0.1", p.port or 1883)
    return c


def queue_messages(url: str, client_id: str, root: str, n: int) -> None:
    """Make the persistent session of ``client_id`` and queue ``n`` messages for it."""
    sub = mqtt_client(url, client_id, clean_session=False)
    acked = threading.Event()
    sub.on_subscribe = lambda *a: acked.set()
    sub.loop_start()
    sub.subscribe(f"{root}/n/+", qos=1)
    acked.wait(30)
    sub.disconnect()
    sub.loop_stop()
    pub = mqtt_client(url, f"pub-{client_id}")
    pub.loop_start()
    infos = [pub.publish(f"{root}/n/rain-{i % 50}", json.dumps({"n": i, "ts": 1795410000 + i}),
                         qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(120)
    pub.disconnect()
    pub.loop_stop()


def timed(run: Callable[[], Callable[[], None]], done: Callable[[], bool]) -> tuple[float, float]:
    """(wall, CPU) seconds from ``run()`` until ``done()``; ``run`` returns its stop."""
    w0, c0 = time.perf_counter(), time.process_time()
    stop = run()
    while not done():
        time.sleep(0.1)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    stop()
    return wall, cpu


def bare_mqtt(url: str, bootstrap: str, client_id: str, prefix: str) -> Callable[[], None]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    topic = f"{prefix}.flooding.events"

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        body = json.loads(msg.payload)
        source = msg.topic.rsplit("/", 1)[1]
        producer.send(topic, key=source.encode(), value=json.dumps({
            "group": "flooding", "source": source, "metric": "rainfall", "value": body["n"],
            "ts": body["ts"], "district": "Hai Chau"}).encode())

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    p = urlsplit(url)
    client.connect(p.hostname or "127.0.0.1", p.port or 1883)
    client.loop_start()

    def stop() -> None:
        producer.flush()
        client.disconnect()
        client.loop_stop()
        producer.close()

    return stop


def bridge_mqtt(url: str, bootstrap: str, client_id: str, prefix: str,
                root: str) -> Callable[[], None]:
    from ingest.config import IngestConfig
    from ingest.run import run_bridge
    from ioc.settings import Settings

    config = IngestConfig.from_toml(
        f'[[broker]]\nurl = "{url}"\nclient_id = "{client_id}"\n'
        + MAPPING.replace("{root}/", f"{root}/"))
    stop = threading.Event()
    thread = threading.Thread(target=run_bridge, args=(
        Settings.from_env({"IOC_INGEST_DEDUPE_S": "0"}), config, bootstrap, stop),
        kwargs={"prefix": prefix}, daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(60)

    return halt


def mqtt_round(url: str, bootstrap: str, n: int,
               contender_first: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("bridge", "bare") if contender_first else ("bare", "bridge"):
        tag = f"b{uuid.uuid4().hex[:8]}"
        prefix, client_id = f"bench-{tag}", f"bench-{tag}"
        make_topics(bootstrap, prefix)
        queue_messages(url, client_id, tag, n)
        topic = f"{prefix}.flooding.events"
        def start(name: str = name, cid: str = client_id, pre: str = prefix,
                  root: str = tag) -> Callable[[], None]:
            if name == "bare":
                return bare_mqtt(url, bootstrap, cid, pre)
            return bridge_mqtt(url, bootstrap, cid, pre, root)

        count = Stored(bootstrap, topic)
        def done(c: Stored = count) -> bool:
            return c() >= n

        wall, cpu = timed(start, done)
        count.close()
        out[name] = {"readings_per_s": n / wall, "wall_s": wall, "cpu_s": cpu}
    return {"bare": out["bare"], "bridge": out["bridge"]}


async def http_round(bootstrap: str, batches: int, size: int,
                     contender_first: bool = False) -> dict[str, Any]:
    import httpx
    from aiokafka import AIOKafkaProducer

    from archive.access import Access
    from archive.run import open_store
    from ingest.http import serve
    from ingest.records import records_of
    from ioc.events import Reading, encode
    from ioc.settings import Settings

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    make_topics(bootstrap, prefix)
    body = [Reading(group="flooding", source=f"rain-{i % 50}", metric="rainfall",
                    value=float(i), ts=1795410000.0 + i, district="Hai Chau")
            for i in range(size)]
    raw = encode(body)
    out: dict[str, Any] = {}

    async def bare() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                    enable_idempotence=True)
        await producer.start()
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(batches):  # the bare loop: the same records, no HTTP, no checks
            futs = [await producer.send(t, v, key=k) for t, k, v in records_of(body, prefix)]
            await asyncio.gather(*futs)
        out["bare"] = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}
        await producer.stop()

    async def api() -> None:
        db = Path(tempfile.mkdtemp()) / "keys.db"
        settings = Settings.from_env({
            "IOC_DATABASE_URL": f"sqlite:///{db}", "IOC_INGEST_RATE_PER_S": "1e9",
            "IOC_INGEST_BURST": "1000000000", "IOC_INGEST_MAX_BODY_BYTES": str(len(raw) + 1024)})
        store = open_store(settings)
        _, secret = Access(store).add_key("bench", "ingest")
        store.close()
        stop, port = asyncio.Event(), list[int]()
        task = asyncio.create_task(serve(settings, bootstrap, host="127.0.0.1", port=0,
                                         prefix=prefix, started=port.append, stop=stop))
        while not port:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port[0]}") as client:
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(batches):
                r = await client.post("/api/v1/readings", content=raw, headers={
                    "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
                assert r.status_code == 202, r.text
            out["api"] = {"wall_s": time.perf_counter() - w0,
                          "cpu_s": time.process_time() - c0}
        stop.set()
        await task

    for run in (api, bare) if contender_first else (bare, api):
        await run()
    for v in out.values():
        v["readings_per_s"] = batches * size / v["wall_s"]
    return {"bare": out["bare"], "api": out["api"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", default=os.environ.get("IOC_TEST_BOOTSTRAP"))
    ap.add_argument("--mqtt", default=os.environ.get("IOC_TEST_MQTT_URL"))
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--contender-first", action="store_true",
                    help="run the bridge and the API before their bare loops (default: after; "
                         "alternate between runs to even out warm-up and machine drift)")
    args = ap.parse_args()
    if not args.bootstrap:
        ap.error("no Kafka: --bootstrap or IOC_TEST_BOOTSTRAP")
    result: dict[str, Any] = {}
    if args.mqtt:
        result["mqtt"] = mqtt_round(args.mqtt, args.bootstrap, args.messages,
                                    args.contender_first)
    else:
        print("no MQTT broker (--mqtt or IOC_TEST_MQTT_URL): MQTT rows skipped")
    result["http"] = asyncio.run(http_round(args.bootstrap, args.batches, args.batch,
                                            args.contender_first))
    print(f"{'path':<6} {'contender':<8} {'readings/s':>12} {'wall s':>8} {'CPU s':>8}")
    for path, rows in result.items():
        for name, r in rows.items():
            print(f"{path:<6} {name:<8} {r['readings_per_s']:>12,.0f} {r['wall_s']:>8.2f} "
                  f"{r['cpu_s']:>8.2f}")
        names = list(rows)
        a, b = rows[names[0]], rows[names[1]]
        wall = b["readings_per_s"] / a["readings_per_s"]
        cpu = a["cpu_s"] / b["cpu_s"] if b["cpu_s"] else float("nan")
        rows["ratio"] = {"wall": round(wall, 3), "cpu": round(cpu, 3)}
        print(f"{path:<6} {names[1]}/{names[0]}: {wall:.2f}x throughput (wall), "
              f"{cpu:.2f}x CPU efficiency (bare CPU / {names[1]} CPU); target >= 0.7x")
    result["order"] = "contender first" if args.contender_first else "bare first"
    print(f"order: {result['order']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
