"""Dashboard latency and fan-out benchmark.

Part 1, latency (Kafka -> dashboard -> websocket). Alert records are produced straight to a
fresh alerts topic; a dashboard server runs in its own process and a websocket client
subscribed as an operator records, for every delta, the time from the record being handed
to the producer to the frame being received. First the maximum sustained load is measured
(a burst produced as fast as possible, rate = records received / time until the last one
arrives), then the load is held at half of it for ``--seconds`` and p50/p99 are reported.
The window-close delay of the workers (an alert can only fire once its window closes: the
group's window size plus the allowed lateness) is NOT included: this measures the
dashboard path only, from ``ioc.alerts`` to the wall.

Part 2, fan-out cost. 500 websocket clients (in a separate process, reading as fast as they
can) connect to a dashboard in this process. The same alert deltas are sent to all of them
(a) through the hub (``Hub.publish``: filter, encode once, bounded per-client queues, one
writer task per client) and (b) by a raw loop sending one pre-encoded frame on every
connection through the server's ASGI send, awaiting each (no hub, no queues), and (c) a
broadcast in the manner of websockets' ``broadcast()`` on the server's sans-I/O protocol
objects (frame and write to each transport without awaiting, skipping full buffers: the CPU
floor under the ASGI layer). Each variant runs
``--repeat`` times in turns, the best run counts. Reported: microseconds per client per
message and the ratios hub/raw (the target) and hub/broadcast.

Targets: p99 < 1 s at half the maximum sustained load; fan-out <= 2x the raw loop.

Run: ``.venv/bin/python benchmarks/latency.py [--bootstrap HOST:PORT] [--seconds S]
[--clients N] [--messages M]``; without ``--bootstrap`` (or IOC_KAFKA_BOOTSTRAP) the
embedded broker is started. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # run as a script: this folder's archive.py is not the archive package

from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect

from dashboards.feed import Topics
from dashboards.hardening import HardenedWebSocketProtocol
from dashboards.server import Dashboard, serve
from ioc.events import Alert, Evidence, encode
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.kafka.broker import EmbeddedBroker
from ioc.settings import Settings

OPERATOR = "bench-operator-token"
SETTINGS = Settings(operator_token=OPERATOR, leadership_token="bench-leadership-token",
                    engineer_token="bench-engineer-token", log_level="WARNING")
DISTRICTS = ("Hai Chau", "Thanh Khe", "Son Tra", "Ngu Hanh Son", "Lien Chieu", "Cam Le")
IDS = 1000  # distinct alert ids; versions grow as the run goes on


def alert(n: int, sent: float) -> Alert:
    """Alert number n (id n % IDS, version n // IDS + 1) stamped with its send time."""
    k = n % IDS
    ev = Evidence(window_start=sent - 60, window_end=sent, value=50.0 + k % 7, baseline=10.0,
                  threshold=30.0, score=0.9, raw=4.0, detector="robust_z",
                  detector_version="1", params={"window": 60},
                  recent=[10.0, 11.0, 12.0, 50.0], detail={"sent": sent})
    return Alert(alert_id=f"robust_z:flooding:rain-B-{k:04d}:rainfall", version=n // IDS + 1,
                 status="firing", severity="major", category="city", group="flooding",
                 district=DISTRICTS[k % len(DISTRICTS)], source=f"rain-B-{k:04d}",
                 metric="rainfall", detector="robust_z", title=f"Rainfall spike {k}",
                 first_seen=sent, last_seen=sent, count=n // IDS + 1, updated_at=sent,
                 change="opened" if n < IDS else "updated", evidence=ev)


# --- part 1: latency through Kafka -----------------------------------------------------------

def _dashboard_process(bootstrap: str, topics: Topics, ports: Any) -> None:
    async def main() -> None:
        await serve(SETTINGS, bootstrap, host="127.0.0.1", port=0, topic_names=topics,
                    ready=lambda d: ports.put(d.port))
    asyncio.run(main())


class Receiver:
    """A websocket client that records receipt latency of alert deltas (runs in its own
    process, so producing does not delay its reading)."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.received = 0
        self.last_at = 0.0
        self.resyncs = 0

    async def run(self, url: str, ready: asyncio.Event) -> None:
        async with connect(url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": OPERATOR}))
            async for raw in ws:
                now = time.time()
                text = raw if isinstance(raw, str) else raw.decode()
                if text.startswith('{"type":"snapshot"'):
                    frame = json.loads(text)
                    if frame.get("ready"):
                        ready.set()
                    if frame.get("reason") == "lagging":
                        self.resyncs += 1
                    continue
                if '"kind":"alert"' not in text[:80]:
                    continue
                # cheaper than decoding the whole frame: the stamp is the last number
                at = text.rindex('"sent":') + 7
                sent = float(text[at:text.index("}", at)])
                self.latencies.append(now - sent)
                self.received += 1
                self.last_at = now


def _receiver_process(url: str, pipe: Any) -> None:
    """Serve the main process's requests: ``("wait", n, timeout)`` -> once ``n`` alerts were
    received (or on timeout): (received, last_at, latencies, resyncs); ``("reset",)`` clears
    the latencies."""
    async def main() -> None:
        receiver = Receiver()
        ready = asyncio.Event()
        task = asyncio.create_task(receiver.run(url, ready))
        await asyncio.wait_for(ready.wait(), 60)
        pipe.send("ready")
        while True:
            request = await asyncio.to_thread(pipe.recv)
            if request[0] == "reset":
                receiver.latencies = []
                pipe.send(receiver.received)
            elif request[0] == "wait":
                deadline = time.monotonic() + request[2]
                while receiver.received < request[1] and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                pipe.send((receiver.received, receiver.last_at, receiver.latencies,
                           receiver.resyncs))
            else:
                task.cancel()
                return

    asyncio.run(main())


async def produce(producer: AIOKafkaProducer, topic: str, first: int, count: int,
                  rate: float | None) -> float:
    """Produce ``count`` alerts (at ``rate``/s, or as fast as possible); returns the time
    the last one was handed over."""
    tick = 0.01
    start = time.perf_counter()
    n = first
    while n < first + count:
        if rate is None:
            chunk = min(500, first + count - n)
        else:
            due = int((time.perf_counter() - start) * rate) - (n - first) + 1
            chunk = min(max(due, 0), first + count - n)
            if chunk == 0:
                await asyncio.sleep(tick)
                continue
        for i in range(n, n + chunk):
            a = alert(i, time.time())
            await producer.send(topic, encode(a), key=a.district.encode())
        n += chunk
        if rate is None:
            await asyncio.sleep(0)
    await producer.flush()
    return time.time()


async def latency_part(bootstrap: str, seconds: float, burst: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topics = Topics(alerts=f"bench.{run}.alerts", indicators=f"bench.{run}.indicators",
                    commands=f"bench.{run}.commands")
    ensure_topics([TopicSpec(t, 4, 1) for t in (topics.alerts, topics.indicators,
                                                topics.commands)], bootstrap)
    ctx = mp.get_context("spawn")
    ports = ctx.Queue()
    proc = ctx.Process(target=_dashboard_process, args=(bootstrap, topics, ports), daemon=True)
    proc.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2,
                                max_batch_size=256 * 1024)
    rx: Any = None
    rproc: Any = None
    try:
        port = await asyncio.to_thread(ports.get, True, 60)
        await producer.start()
        rx, tx = ctx.Pipe()
        rproc = ctx.Process(target=_receiver_process, args=(f"ws://127.0.0.1:{port}/ws", tx),
                            daemon=True)
        rproc.start()
        assert await asyncio.to_thread(rx.recv) == "ready"

        async def ask(*request: Any) -> Any:
            rx.send(request)
            return await asyncio.to_thread(rx.recv)

        # warm-up, then the maximum sustained load: a burst as fast as possible
        await produce(producer, topics.alerts, 0, 500, None)
        await ask("wait", 500, 60)
        await ask("reset")
        t0 = time.time()
        await produce(producer, topics.alerts, 500, burst, None)
        received, last_at, burst_lat, resyncs = await ask("wait", 500 + burst, 120)
        if received < 500 + burst:
            raise RuntimeError(f"burst: received {received - 500} of {burst} alerts "
                               f"({resyncs} lagging resyncs)")
        max_rate = burst / (last_at - t0)

        # half of it, sustained
        rate = max_rate / 2
        count = int(rate * seconds)
        base = await ask("reset")
        await produce(producer, topics.alerts, 500 + burst, count, rate)
        received, _, lat, resyncs = await ask("wait", base + count, 60)
        if received < base + count:
            raise RuntimeError(f"sustained: received {received - base} of {count} alerts "
                               f"({resyncs} lagging resyncs)")
        return {"max_sustained_per_s": round(max_rate), "rate_per_s": round(rate),
                "messages": count, "seconds": seconds,
                "p50_ms": round(_pct(lat, 50) * 1000, 2),
                "p99_ms": round(_pct(lat, 99) * 1000, 2),
                "max_ms": round(max(lat) * 1000, 2),
                "burst_p99_ms": round(_pct(burst_lat, 99) * 1000, 1)}
    finally:
        if rx is not None:
            rx.send(("stop",))
        if rproc is not None:
            rproc.join(10)
        await producer.stop()
        proc.terminate()
        proc.join(10)


async def _until(predicate: Any, timeout: float, why: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"benchmark: timed out after {timeout} s"
                               + (f" ({why()})" if why else ""))
        await asyncio.sleep(0.01)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# --- part 2: fan-out to many clients ---------------------------------------------------------

def _clients_process(url: str, n: int, status: Any, stop: Any) -> None:
    async def one(ready: list[int]) -> None:
        async with connect(url, max_size=None, max_queue=64) as ws:
            await ws.send(json.dumps({"type": "auth", "token": OPERATOR}))
            ready.append(1)
            async for _ in ws:
                pass

    async def main() -> None:
        ready: list[int] = []
        tasks = []
        for _ in range(n):
            tasks.append(asyncio.create_task(one(ready)))
            await asyncio.sleep(0.002)
        while len(ready) < n:
            await asyncio.sleep(0.05)
        status.put(len(ready))
        await asyncio.to_thread(stop.wait)
        for t in tasks:
            t.cancel()

    asyncio.run(main())


async def fanout_part(bootstrap: str, clients: int, messages: int,
                      repeat: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    topics = Topics(alerts=f"bench.{run}.fa", indicators=f"bench.{run}.fi",
                    commands=f"bench.{run}.fc")
    ensure_topics([TopicSpec(t, 1, 1) for t in (topics.alerts, topics.indicators,
                                                topics.commands)], bootstrap)
    dash = Dashboard(SETTINGS, bootstrap, host="127.0.0.1", port=0, topic_names=topics,
                     hub_options={"queue_frames": max(1000, messages + 10)})
    await dash.start()
    ctx = mp.get_context("spawn")
    status, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_clients_process, args=(dash.ws_url, clients, status, stop),
                       daemon=True)
    proc.start()
    try:
        await _until(lambda: dash.hub.ready, 60)
        await asyncio.to_thread(status.get, True, 120)
        await _until(lambda: len(dash.hub.clients) == clients and
                     all(not c.queue for c in dash.hub.clients.values()), 60)
        records = [alert(i, time.time()) for i in range(messages)]
        frames = [encode(r) for r in records]
        conns = [c.ws for c in dash._conns]
        protocols = _protocols(dash)
        texts = [f.decode() for f in frames]
        hub_times: list[float] = []
        raw_times: list[float] = []
        bcast_times: list[float] = []
        for _ in range(repeat):
            hub_times.append(await _via_hub(dash, records))
            await asyncio.sleep(0.5)
            raw_times.append(await _raw_loop(conns, texts))
            await asyncio.sleep(0.5)
            bcast_times.append(await _broadcast(protocols, frames))
            await asyncio.sleep(0.5)
        sends = messages * clients
        hub_us = min(hub_times) / sends * 1e6
        raw_us = min(raw_times) / sends * 1e6
        bcast_us = min(bcast_times) / sends * 1e6
        lost = sum(dash.hub.stats.dropped.values())
        return {"clients": clients, "messages": messages, "repeat": repeat,
                "hub_us_per_client_msg": round(hub_us, 2),
                "raw_us_per_client_msg": round(raw_us, 2),
                "broadcast_us_per_client_msg": round(bcast_us, 2),
                "ratio": round(hub_us / raw_us, 2),
                "ratio_vs_broadcast": round(hub_us / bcast_us, 2),
                "hub_runs_s": [round(t, 3) for t in hub_times],
                "raw_runs_s": [round(t, 3) for t in raw_times],
                "broadcast_runs_s": [round(t, 3) for t in bcast_times],
                "frames_dropped": lost}
    finally:
        stop.set()
        proc.join(20)
        if proc.is_alive():
            proc.terminate()
        await dash.stop()


async def _via_hub(dash: Dashboard, records: list[Alert]) -> float:
    """Publish through the hub (batches of 50, as a consumer batch would) and wait until
    every writer has emptied its queue."""
    hub = dash.hub
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    for i in range(0, len(records), 50):
        for r in records[i:i + 50]:
            hub.publish(r, now=loop.time())
        await asyncio.sleep(0)
    clients = list(hub.clients.values())
    while any(c.queue for c in clients):
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def _raw_loop(conns: list[Any], texts: list[str]) -> float:
    """The floor of awaited sends: one pre-encoded frame sent on every connection through
    the server's ASGI send (as the hub's writers do), message after message."""
    start = time.perf_counter()
    for i in range(0, len(texts), 50):
        for text in texts[i:i + 50]:
            message = {"type": "websocket.send", "text": text}
            for ws in conns:
                await ws.send(message)
        await asyncio.sleep(0)
    return time.perf_counter() - start


def _protocols(dash: Dashboard) -> list[HardenedWebSocketProtocol]:
    """The server's open websocket connections (uvicorn's protocol objects)."""
    server = dash._server
    assert server is not None
    return [p for p in server.server_state.connections
            if isinstance(p, HardenedWebSocketProtocol) and p.handshake_complete]


async def _broadcast(protocols: list[HardenedWebSocketProtocol], frames: list[bytes]) -> float:
    """What websockets' ``broadcast()`` does, on the server's sans-I/O protocols: frame and
    write to every transport without waiting (skipping a connection whose buffer is over its
    high-water mark), then wait until every write buffer has drained."""
    start = time.perf_counter()
    for i in range(0, len(frames), 50):
        for data in frames[i:i + 50]:
            for p in protocols:
                if not p.writable.is_set() or p.close_sent:
                    continue
                p.conn.send_text(data)
                p.transport.write(b"".join(p.conn.data_to_send()))
        await asyncio.sleep(0)
    while any(p.transport.get_write_buffer_size() for p in protocols):
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = args.bootstrap or os.environ.get("IOC_KAFKA_BOOTSTRAP")
    broker = None
    if not bootstrap:
        broker = EmbeddedBroker()
        bootstrap = broker.start()
    try:
        print(f"broker: {bootstrap} ({'embedded' if broker else 'given'})", flush=True)
        lat = await latency_part(bootstrap, args.seconds, args.burst)
        print(f"max sustained load: {lat['max_sustained_per_s']} alerts/s "
              f"(burst p99 {lat['burst_p99_ms']} ms)", flush=True)
        print(f"at half ({lat['rate_per_s']}/s for {lat['seconds']} s, {lat['messages']} "
              f"alerts): p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} "
              f"ms (produce -> websocket; window-close delay excluded)", flush=True)
        fan = await fanout_part(bootstrap, args.clients, args.messages, args.repeat)
        print(f"fan-out to {fan['clients']} clients: hub {fan['hub_us_per_client_msg']} us, "
              f"raw loop {fan['raw_us_per_client_msg']} us, broadcast "
              f"{fan['broadcast_us_per_client_msg']} us per client per message "
              f"(ratio hub/raw {fan['ratio']}, hub/broadcast {fan['ratio_vs_broadcast']})",
              flush=True)
    finally:
        if broker is not None:
            broker.stop()
    return {"benchmark": "dashboard_latency", "broker": "embedded" if broker else "given",
            "cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
            "latency": lat, "fanout": fan,
            "excluded": "window-close delay (window size + allowed lateness) of the workers",
            "targets": {"p99_ms_below": 1000, "fanout_ratio_at_most": 2.0},
            "met": {"p99": lat["p99_ms"] < 1000, "fanout": fan["ratio"] <= 2.0}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="Kafka to use (default: IOC_KAFKA_BOOTSTRAP, "
                        "else the embedded broker)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="duration of the sustained run at half the maximum load")
    parser.add_argument("--burst", type=int, default=20_000,
                        help="alerts in the burst that measures the maximum load")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
