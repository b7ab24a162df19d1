"""``ioc notify`` through trouble, on Apache Kafka: ``kill -9`` at random moments (nothing
told twice, nothing lost) on SQLite and PostgreSQL, and a webhook receiver that fails for a
while and then recovers (retried with back-off, never holding up the email deliveries)."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import Alerts, NotifyProcess
from kit import HttpReceiver, SmtpServer, alert
from waits import wait_until

from archive import schema
from archive.store import Store

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CONFIG = '''
[notify]
tick = "0.2s"
retry_base = "0.2s"
retry_max = "1s"
max_attempts = 1000
takeover = "6s"
webhook_timeout = "2s"

[smtp]
port = {smtp_port}
timeout = "2s"

[defaults]
group_by = ["alert_id"]
group_wait = "0s"
group_interval = "0s"

[[receivers]]
name = "bridge"
webhook = "{url}/hook"

[[receivers]]
name = "desk"
email = "desk@danang.test"

[[routes]]
name = "all"
receivers = {receivers}
'''


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


@pytest.fixture
def alerts(kafka_bootstrap: str) -> Iterator[Alerts]:
    a = Alerts(kafka_bootstrap, partitions=3)
    yield a
    a.close()


def outbox(url: str) -> Counter[str]:
    store = Store(url)
    try:
        t = schema.notify_outbox
        with store.connect() as conn:
            return Counter(r.status for r in conn.execute(sa.select(t.c.status)))
    finally:
        store.close()


def test_kill_9_at_any_moment_tells_nothing_twice_and_loses_nothing(
        kafka_bootstrap: str, alerts: Alerts, database_url: str, http: HttpReceiver,
        tmp_path: Path) -> None:
    """400 alerts in bursts while the notifier is killed with SIGKILL four times at random
    moments and restarted: every alert is told, by exactly one notification (one
    idempotency key); a send cut off between the receiver's answer and the outbox's commit
    is repeated with the same key and body, which the receiver drops."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    config = tmp_path / "notify.toml"
    config.write_text(CONFIG.format(smtp_port=1, url=http.url, receivers='["bridge"]'))
    app_id = f"kill-{seed}"
    proc = NotifyProcess(kafka_bootstrap, alerts, database_url, config,
                         tmp_path / "notify.log", app_id=app_id).start()
    sent: list[str] = []
    kills = 0
    try:
        proc.wait_ready()
        for burst in range(8):
            batch = [alert(f"rain-{burst}-{k:03d}") for k in range(50)]
            alerts.send(*batch)
            sent += [a.alert_id for a in batch]
            if burst % 2 == 1:
                time.sleep(rng.uniform(0.0, 0.6))  # the moment of the kill, not a wait
                proc.kill()
                kills += 1
                proc = NotifyProcess(kafka_bootstrap, alerts, database_url, config,
                                     tmp_path / "notify.log", app_id=app_id).start()
                proc.wait_ready()

        def told() -> set[str]:
            return {p.json()["alerts"][0]["labels"]["alert_id"] for p in http.on("/hook")}

        wait_until(lambda: told() == set(sent), 120,
                   f"all {len(sent)} alerts told (seed {seed})")
        wait_until(lambda: outbox(database_url) == Counter(sent=len(sent)), 60,
                   "every outbox row recorded as sent")
    finally:
        proc.stop()
    posts = http.on("/hook")
    keys = Counter(p.key for p in posts)
    per_alert: dict[str, set[str]] = {}
    for p in posts:
        per_alert.setdefault(p.json()["alerts"][0]["labels"]["alert_id"], set()).add(p.key)
    assert all(len(k) == 1 for k in per_alert.values()), "an alert planned twice"
    assert len(keys) == len(sent)
    bodies: dict[str, bytes] = {}
    for p in posts:
        assert bodies.setdefault(p.key, p.body) == p.body, "a repeat differs from the first"
    repeats = len(posts) - len(keys)
    assert repeats <= kills * 32, f"{repeats} repeats for {kills} kills (seed {seed})"


def test_a_receiver_that_fails_for_a_while_is_retried_until_it_recovers(
        kafka_bootstrap: str, alerts: Alerts, tmp_path: Path, http: HttpReceiver) -> None:
    """The webhook answers 503 ("for a minute", made short: until the notifier has retried
    twenty times): its deliveries back off and retry while the emails of the same alerts
    go out at once; when it recovers, each alert reaches it once."""
    smtp = SmtpServer()
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    config = tmp_path / "notify.toml"
    config.write_text(CONFIG.format(smtp_port=smtp.port, url=http.url,
                                    receivers='["bridge", "desk"]'))
    http.fail["/hook"] = 503
    proc = NotifyProcess(kafka_bootstrap, alerts, url, config, tmp_path / "notify.log")
    try:
        proc.start().wait_ready()
        batch = [alert(f"rain-HC-{k:02d}") for k in range(20)]
        alerts.send(*batch)
        wait_until(lambda: len(smtp.to("desk@danang.test")) == 20, 60,
                   "every email delivered while the webhook fails")
        wait_until(lambda: proc.metrics().get(
            'ioc_notify_retried_total{channel="webhook"}', 0) >= 20, 60, "20 retries")
        assert http.on("/hook") == [] and http.refused >= 20
        wait_until(lambda: proc.metrics()["ioc_notify_queue_depth"] == 20, 10,
                   "the 20 webhooks waiting in the outbox (the emails sent)")
        del http.fail["/hook"]
        wait_until(lambda: len(http.on("/hook")) == 20, 60, "every webhook after recovery")
        wait_until(lambda: outbox(url) == Counter(sent=40), 30, "the outbox all sent")
        wait_until(lambda: proc.metrics()["ioc_notify_queue_depth"] == 0, 10, "an empty queue")
        m = proc.metrics()
    finally:
        proc.stop()
        smtp.close()
    assert len({p.key for p in http.on("/hook")}) == 20
    assert m['ioc_notify_sent_total{channel="webhook"}'] == 20
    assert m['ioc_notify_sent_total{channel="email"}'] == 20
    assert m.get('ioc_notify_failed_total{channel="webhook"}', 0) == 0
