"""Notifier benchmark: deliveries/s of the whole path against a bare loop, and the latency
from the alert record to its delivery at half the maximum rate.

In the same run, against the same local webhook receiver (a separate process: a threaded
HTTP/1.1 server that records what it receives):

(a) ``bare``: the Alertmanager payloads the notifier would send, built beforehand, posted one
    after the other on one kept-alive connection (HMAC-signed): the most a Python sender of
    these payloads does without deciding anything;
(b) ``notify``: the whole path: alert records on Kafka -> :class:`notify.service.Notifier`
    (consume, route, group with ``group_wait = 0``, plan into the durable outbox in the
    database, claim, send on the pool, record the outcome) -> the same receiver. The pool
    sends on up to ``PER_ADDRESS`` connections to the receiver at once where (a) has one
    (printed with the result). Timed from the moment the consumer has its partitions (the
    backlog already on the topic) to the last receipt. The target is notify >= 0.5x bare.

Then alerts are produced at half the rate (b) reached for ``--latency-s`` seconds, and the
p50/p99 from producing the record to its receipt are reported.

CPU seconds of this process are reported beside wall time (the receiver runs in its own
process, so both paths are charged only for their sending side).

Run: ``.venv/bin/python benchmarks/notify.py [--alerts N] [--bootstrap HOST:PORT]
[--postgres URL] [--latency-s S]``. Without ``--bootstrap`` the embedded broker is used.
Prints a table and a last line of JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

# this file is named like the package it measures: take its own folder off the import path
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from archive.store import Store
from ioc.events import Alert, Evidence, encode
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.kafka.broker import EmbeddedBroker, free_port, wait_for_kafka
from ioc.tools.producer import EventProducer
from notify.channels import SIGNATURE_HEADER, sign
from notify.config import parse
from notify.dispatcher import BATCH, PER_ADDRESS
from notify.items import item_of
from notify.messages import alertmanager_payload
from notify.service import Notifier

RECEIVER = r'''
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
got, lock = [], threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        now = time.time()
        with lock:
            got.append((now, body))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        with lock:
            if self.path == "/count":
                out = str(len(got)).encode()
            else:
                out = json.dumps([[t, json.loads(b)["alerts"][0]["labels"]["alert_id"]]
                                  for t, b in got]).encode()
                got.clear()
        self.send_response(200); self.send_header("Content-Length", str(len(out)))
        self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.daemon_threads = True
print("ready", flush=True)
s.serve_forever()
'''


def evidence(ts: float) -> Evidence:
    return Evidence(window_start=ts, window_end=ts + 60, value=42.0, baseline=3.0,
                    threshold=20.0, score=0.97, raw=9.0, detector="robust_z",
                    detector_version="2", params={}, recent=[3.0, 42.0])


def make_alert(run: str, k: int, ts: float) -> Alert:
    source = f"rain-{run}-{k:06d}"
    return Alert(alert_id=f"robust_z:flooding:{source}:rainfall", version=1, status="firing",
                 severity="major", category="city", group="flooding", district="Hai Chau",
                 source=source, metric="rainfall", detector="robust_z",
                 title=f"rainfall high at {source}", first_seen=ts, last_seen=ts, count=1,
                 updated_at=ts, change="opened", evidence=evidence(ts))


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.port)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
            return json.loads(r.read())

    def count(self) -> int:
        return int(self.get("/count"))

    def wait(self, n: int, timeout: float = 600.0) -> float:
        deadline = time.monotonic() + timeout
        while (got := self.count()) < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"receiver got {got} of {n} within {timeout:g} s")
            time.sleep(0.02)
        return time.perf_counter()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def bare(receiver: Receiver, payloads: list[bytes]) -> tuple[float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
    cpu, wall = time.process_time(), time.perf_counter()
    for n, body in enumerate(payloads):
        conn.request("POST", "/hook", body=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": str(n),
            SIGNATURE_HEADER: sign(body, "s3cret")})
        resp = conn.getresponse()
        resp.read()
    receiver.wait(len(payloads))
    return time.perf_counter() - wall, time.process_time() - cpu


CONFIG = '''
[notify]
tick = "0.05s"
workers = 8
start = "earliest"

[[receivers]]
name = "bridge"
webhook = "http://127.0.0.1:{port}/hook"
webhook_secret = "s3cret"

[[routes]]
name = "all"
receivers = ["bridge"]
group_by = ["alert_id"]
group_wait = "0s"
group_interval = "0s"
'''


def start_notifier(url: str, bootstrap: str, topic: str, port: int
                   ) -> tuple[Notifier, threading.Event, threading.Thread, Store]:
    store = Store(url)
    store.migrate()
    notifier = Notifier(store, parse(CONFIG.format(port=port), "bench.toml"),
                        bootstrap=bootstrap, topics=[topic],
                        group_id=f"bench-{uuid.uuid4().hex[:6]}", sla={})
    stop = threading.Event()
    thread = threading.Thread(target=notifier.run, args=(stop,), daemon=True)
    thread.start()
    return notifier, stop, thread, store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=5000)
    ap.add_argument("--bootstrap", help="Kafka bootstrap (default: start the embedded broker)")
    ap.add_argument("--postgres", help="a PostgreSQL URL for the outbox (default: SQLite)")
    ap.add_argument("--latency-s", type=float, default=10.0)
    args = ap.parse_args()

    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        broker = EmbeddedBroker()
        bootstrap = broker.start()
    wait_for_kafka(bootstrap, timeout=60)
    receiver = Receiver()
    tmp = Path(tempfile.mkdtemp(prefix="ioc-notify-bench-"))
    url = args.postgres or os.environ.get("IOC_BENCH_POSTGRES") or \
        f"sqlite:///{tmp / 'notify.db'}"
    run = uuid.uuid4().hex[:6]
    topic = f"bench{run}.alerts"
    ensure_topics([TopicSpec(topic, 4, 1)], bootstrap)
    now = time.time()
    alerts = [make_alert(run, k, now) for k in range(args.alerts)]
    payloads = [json.dumps(alertmanager_payload(
        [item_of(a)], status="firing", receiver="bridge", group_key=a.alert_id,
        group_labels={"alert_id": a.alert_id}, wall_url="http://127.0.0.1:8080"),
        separators=(",", ":")).encode() for a in alerts]
    try:
        bare_wall, bare_cpu = bare(receiver, payloads)
        receiver.get("/times")  # clear
        producer = EventProducer(bootstrap, linger_ms=20)
        for a in alerts:
            producer.send_raw(topic, a.alert_id, encode(a))
        producer.flush(120)
        notifier, stop, thread, store = start_notifier(url, bootstrap, topic, receiver.port)
        while not notifier.ready:
            time.sleep(0.01)
        cpu, wall = time.process_time(), time.perf_counter()
        receiver.wait(len(alerts))
        path_wall, path_cpu = time.perf_counter() - wall, time.process_time() - cpu
        receiver.get("/times")
        rate = len(alerts) / path_wall
        latency = measure_latency(producer, topic, receiver, run, rate / 2, args.latency_s)
        stop.set()
        thread.join(30)
        store.close()
        producer.close()
    finally:
        receiver.close()
        if broker is not None:
            broker.stop()
    report(args, url, bare_wall, bare_cpu, path_wall, path_cpu, latency)


def measure_latency(producer: EventProducer, topic: str, receiver: Receiver, run: str,
                    rate: float, seconds: float) -> dict[str, float]:
    sent: dict[str, float] = {}
    start = time.perf_counter()
    k = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while k < due:
            ts = time.time()
            a = make_alert(f"{run}L", k, ts)
            producer.send_raw(topic, a.alert_id, encode(a))
            sent[a.alert_id] = ts
            k += 1
        producer.flush(10)
        time.sleep(0.002)
    receiver.wait(len(sent))
    lat = sorted(t - sent[aid] for t, aid in receiver.get("/times") if aid in sent)
    return {"rate": rate, "n": float(len(lat)), "p50_s": statistics.median(lat),
            "p99_s": lat[min(len(lat) - 1, int(0.99 * len(lat)))], "max_s": lat[-1]}


def report(args: argparse.Namespace, url: str, bare_wall: float, bare_cpu: float,
           path_wall: float, path_cpu: float, latency: dict[str, float]) -> None:
    n = args.alerts
    backend = url.split(":", 1)[0].split("+")[0]
    print(f"{'path':<10}{'deliveries/s':>14}{'wall s':>9}{'cpu s':>9}{'per cpu s':>12}")
    print(f"{'bare':<10}{n / bare_wall:>14,.0f}{bare_wall:>9.2f}{bare_cpu:>9.2f}"
          f"{n / max(bare_cpu, 1e-9):>12,.0f}")
    print(f"{'notify':<10}{n / path_wall:>14,.0f}{path_wall:>9.2f}{path_cpu:>9.2f}"
          f"{n / max(path_cpu, 1e-9):>12,.0f}")
    ratio, cpu_ratio = bare_wall / path_wall, bare_cpu / max(path_cpu, 1e-9)
    print(f"notify / bare: {ratio:.2f}x wall, {cpu_ratio:.2f}x per CPU second "
          f"(target >= 0.5x; {backend} outbox)")
    print(f"connections to the receiver: bare 1; notify up to {PER_ADDRESS} at once (its "
          f"per-address limit), each sending up to {BATCH} rows in turn")
    print(f"record -> delivery at {latency['rate']:.0f}/s (half the max) over "
          f"{latency['n']:.0f} alerts: p50 {latency['p50_s'] * 1000:.0f} ms, p99 "
          f"{latency['p99_s'] * 1000:.0f} ms, max {latency['max_s'] * 1000:.0f} ms")
    print(json.dumps({"alerts": n, "database": backend, "connections": PER_ADDRESS,
                      "bare_per_s": n / bare_wall,
                      "notify_per_s": n / path_wall, "ratio": ratio, "cpu_ratio": cpu_ratio,
                      "latency": latency}))


if __name__ == "__main__":
    main()
