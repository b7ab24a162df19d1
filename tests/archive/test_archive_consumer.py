"""``ioc archive`` on a real broker, into SQLite and PostgreSQL: every record archived exactly
once, through ``kill -9`` at any moment, two processes sharing the partitions, and a database
that goes away for 30 s under load.

Exactly once is checked where a duplicate would show: roll-ups sum the windows they fold in,
dead-letter counts and rejects are added up, so a record written twice would make a total too
large, one lost too small. Each test has its own topics (prefix) and consumer group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dbkit import fresh_database
from waits import wait_until

from archive import schema
from archive.run import archive_topics
from archive.store import Store
from ioc.events import Alert, Command, DeadLetter, Evidence, WindowSummary, encode
from ioc.kafka.admin import ensure_topics
from ioc.kafka.broker import free_port
from ioc.settings import Settings
from ioc.tools.producer import EventProducer
from streams.topics import TopicNames
from streams.worker import health

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

T0 = 1_795_366_800.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Sent:
    alert_versions: int = 0
    commands: int = 0
    windows: int = 0
    deadletters: int = 0
    garbage: int = 0


class City:
    """A test's topics, and a producer of numbered records of every kind the archive reads."""

    def __init__(self, bootstrap: str) -> None:
        self.prefix = f"a{uuid.uuid4().hex[:10]}"
        self.names = TopicNames(self.prefix)
        ensure_topics(self.names.specs(Settings(partitions=4)), bootstrap)
        self.topics = archive_topics(self.prefix)
        self.producer = EventProducer(bootstrap, linger_ms=10)
        self.sent = Sent()
        self.round = 0

    def send_round(self) -> None:
        """One round: 5 alerts x 2 versions, 2 commands, 4 packs of 10 summaries, 3 dead
        letters, 1 record that is not JSON."""
        k = self.round
        self.round += 1
        n = self.names
        ev = Evidence(window_start=T0, window_end=T0 + 60, value=1.0, baseline=0.0,
                      threshold=None, score=0.95, raw=1.0, detector="robust_z",
                      detector_version="2", params={}, recent=[])
        for a in range(5):
            source = f"flood-HC-{a:02d}"
            for v in (1, 2):
                rec = Alert(alert_id=f"robust_z:flooding:{source}:r{k}", version=v,
                            status="firing", severity="major", category="city",
                            group="flooding", district="Hai Chau", source=source,
                            metric="flood_depth", detector="robust_z", title="t",
                            first_seen=T0, last_seen=T0, count=v, updated_at=T0 + k,
                            change="opened" if v == 1 else "updated", evidence=ev)
                self.producer.send_raw(n.alerts, source, encode(rec))
                self.sent.alert_versions += 1
        for c in range(2):
            cmd = Command(command_id=f"c-{k}-{c}", action="ack", user="operator",
                          ts=T0 + k, alert_id=f"robust_z:flooding:flood-HC-0{c}:r{k}")
            self.producer.send_raw(n.commands, f"flood-HC-0{c}", encode(cmd))
            self.sent.commands += 1
        for p in range(4):
            pack = [WindowSummary("flooding", f"flood-HC-{i:02d}", "flood_depth", "Hai Chau",
                                  T0 + 60 * k, T0 + 60 * k + 60, 6, 1.0, 0.5, 2.0, 1.0, 0.1)
                    for i in range(10)]
            self.producer.send_raw(n.indicators, f"flooding-{p}", encode(pack))
            self.sent.windows += 10
        for d in range(3):
            dead = DeadLetter(reason="unknown district 'Da Lat'", field="$.district",
                              topic=n.events("flooding"), partition=d, offset=k, raw=b"{}",
                              ts=T0 + k)
            self.producer.send_raw(n.deadletter, f"k{d}", encode(dead))
            self.sent.deadletters += 1
        self.producer.send_raw(n.alerts, "garbage", b"\xff not json")
        self.sent.garbage += 1

    def flush(self) -> None:
        self.producer.flush(60)

    def close(self) -> None:
        self.producer.close()


def totals(url: str) -> Sent:
    """What the archive holds, counted where a duplicate or a loss would show."""
    s = Store(url)
    try:
        with s.engine.connect() as conn:
            def one(q: Any) -> int:
                return int(conn.execute(q).scalar() or 0)
            r, d = schema.indicator_rollups, schema.deadletter_counts
            return Sent(
                alert_versions=one(sa.select(sa.func.count()).select_from(schema.alert_versions)),
                commands=one(sa.select(sa.func.count()).select_from(schema.commands)),
                windows=one(sa.select(sa.func.sum(r.c.windows)).where(r.c.resolution == "h")),
                deadletters=one(sa.select(sa.func.sum(d.c.n))),
                garbage=one(sa.select(sa.func.count()).select_from(schema.archive_rejects)))
    finally:
        s.close()


class ArchiveProcess:
    """``ioc archive`` as a subprocess."""

    def __init__(self, bootstrap: str, city: City, url: str, app_id: str, log: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_APP_ID": app_id,
                    "IOC_DATABASE_URL": url, "IOC_ARCHIVE_PORT": str(self.port),
                    "IOC_LOG_LEVEL": "INFO"}
        self.argv = [sys.executable, "-m", "ioc", "archive", "--topic-prefix", city.prefix]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ArchiveProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=REPO)
        return self

    def health(self) -> dict[str, Any]:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"ioc archive exited ({self.proc.returncode}): "
                                 f"{self.log.read_text(errors='replace')[-2000:]}")
        return health(self.port) or {}

    def wait_ready(self) -> None:
        wait_until(lambda: self.health().get("status") in ("ok", "degraded"), 90,
                   "ioc archive to be ready")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def city(kafka_bootstrap: str) -> Iterator[City]:
    c = City(kafka_bootstrap)
    try:
        yield c
    finally:
        c.close()


@contextlib.contextmanager
def archives(n: int, bootstrap: str, city: City, url: str, tmp: Path
             ) -> Iterator[list[ArchiveProcess]]:
    app_id = f"itest-{uuid.uuid4().hex[:8]}"
    procs = [ArchiveProcess(bootstrap, city, url, app_id, tmp / f"archive-{i}.log")
             for i in range(n)]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            p.stop()


def wait_archived(url: str, city: City, timeout: float = 120) -> Sent:
    want = city.sent
    return wait_until(lambda: (got := totals(url)) == want and got, timeout,
                      f"the archive to hold {want} (has {totals(url)})")


def test_every_record_kind_is_archived_once(kafka_bootstrap: str, city: City, database_url: str,
                                            tmp_path: Path) -> None:
    for _ in range(5):
        city.send_round()
    city.flush()
    with archives(1, kafka_bootstrap, city, database_url, tmp_path) as (a,):
        a.wait_ready()
        wait_archived(database_url, city)
        city.send_round()  # live records after the backlog
        city.flush()
        wait_archived(database_url, city)
        metrics = a.health()
    assert metrics["status"] == "ok"
    assert totals(database_url) == city.sent


def test_kill_9_at_any_moment_loses_and_doubles_nothing(
        kafka_bootstrap: str, city: City, database_url: str, tmp_path: Path) -> None:
    """Two archives share the partitions; four times, 10 more rounds are sent and one of them
    is killed as soon as the archive has written some of them (mid-stream), then restarted."""
    with archives(2, kafka_bootstrap, city, database_url, tmp_path) as procs:
        for p in procs:
            p.wait_ready()
        for k in range(4):
            seen = totals(database_url).windows
            for _ in range(10):
                city.send_round()
            city.flush()
            wait_until(lambda seen=seen: totals(database_url).windows > seen, 60,
                       "the archive to write some of the new rows")
            victim = procs[k % 2]
            victim.kill()
            victim.start()
        for p in procs:
            p.wait_ready()
        wait_archived(database_url, city, timeout=180)
    assert totals(database_url) == city.sent


def test_a_database_outage_of_30_s_under_load_loses_nothing(
        kafka_bootstrap: str, city: City, tmp_path: Path) -> None:
    base = os.environ.get("IOC_TEST_DATABASE_URL", "")
    state = os.environ.get("IOC_TEST_PG_STATE_DIR", "")
    if not (base and state):
        pytest.skip("needs the PostgreSQL of scripts/test.sh (IOC_TEST_PG_STATE_DIR)")
    with fresh_database(base) as url, archives(1, kafka_bootstrap, city, url, tmp_path) as (a,):
        a.wait_ready()
        for _ in range(3):
            city.send_round()
        city.flush()
        wait_archived(url, city)
        pg = {**os.environ, "PG_STATE_DIR": state,
              "PG_PORT": str(sa.engine.make_url(base).port)}
        subprocess.run([str(REPO / "scripts/postgres.sh"), "halt"], env=pg, check=True,
                       timeout=60)
        halted = time.monotonic()
        try:
            while time.monotonic() - halted < 30:  # load while the database is away
                city.send_round()
                city.flush()
                time.sleep(0.5)
            wait_until(lambda: a.health().get("database") == "unavailable", 30,
                       "the archive to report the database unavailable")
        finally:
            subprocess.run([str(REPO / "scripts/postgres.sh"), "resume"], env=pg, check=True,
                           timeout=60)
        wait_archived(url, city, timeout=180)
        wait_until(lambda: a.health().get("status") == "ok", 60, "the archive to be ok again")
        assert totals(url) == city.sent
