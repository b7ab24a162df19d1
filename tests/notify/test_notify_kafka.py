"""``ioc notify`` on Apache Kafka, with a real SMTP server (aiosmtpd) and a real HTTP receiver
(webhook and SMS gateway) on 127.0.0.1: routing and grouping, escalation that stops on ack,
quiet hours, and the daily digest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from harness import Alerts, NotifyProcess
from kit import HttpReceiver, SmtpServer, alert, html_of, text_of
from waits import wait_until

from archive import schema
from archive.accounts import Accounts
from archive.records import Batch
from archive.store import Store
from ioc.events import encode
from notify.channels import SIGNATURE_HEADER, sign
from notify.config import parse
from notify.contacts import Contacts
from notify.items import DA_NANG
from notify.service import Notifier

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    s = SmtpServer()
    yield s
    s.close()


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


@pytest.fixture
def alerts(kafka_bootstrap: str) -> Iterator[Alerts]:
    a = Alerts(kafka_bootstrap)
    yield a
    a.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    store = Store(url)
    store.migrate()
    yield url, store
    store.close()


def channels(smtp: SmtpServer, http: HttpReceiver) -> str:
    return f'''
[notify]
wall_url = "http://wall.test:8080"
tick = "0.2s"

[smtp]
port = {smtp.port}
sender = "ioc@test"

[sms]
url = "{http.url}/sms"
body = '{{"to": "{{to}}", "text": "{{text}}"}}'
headers = {{ Authorization = "Bearer gw-token" }}
'''


def start(tmp_path: Path, kafka_bootstrap: str, alerts: Alerts, url: str, text: str
          ) -> NotifyProcess:
    config = tmp_path / "notify.toml"
    config.write_text(text, encoding="utf-8")
    proc = NotifyProcess(kafka_bootstrap, alerts, url, config, tmp_path / "notify.log")
    try:
        return proc.start().wait_ready()
    except BaseException:
        proc.stop()
        raise


def test_routes_group_and_deliver_by_email_webhook_and_sms(
        kafka_bootstrap: str, alerts: Alerts, db: tuple[str, Store], smtp: SmtpServer,
        http: HttpReceiver, tmp_path: Path) -> None:
    """Three flooding alerts in Hai Chau go out as one email and one signed Alertmanager
    post, the Son Tra one as another; a traffic alert goes by SMS (cut to one) through the
    gateway; an alert the wall silenced, one no route matches and one already on the topic
    before the notifier's first run tell nobody; a resolution is told once."""
    text = channels(smtp, http) + f'''
[defaults]
group_wait = "1s"
group_interval = "1s"

[[receivers]]
name = "flood-desk"
email = "desk@danang.test"
language = "en"

[[receivers]]
name = "bridge"
webhook = "{http.url}/hook"
webhook_secret = "s3cret"

[[receivers]]
name = "traffic-phone"
phone = "+84905000001"

[[routes]]
name = "floods"
match = {{ group = "flooding" }}
receivers = ["flood-desk", "bridge"]

[[routes]]
name = "traffic"
match = {{ group = "traffic", severity = ["major", "critical"] }}
receivers = ["traffic-phone"]
'''
    alerts.send(alert("rain-HC-00"))  # history: a first run starts at the topic's end
    n = start(tmp_path, kafka_bootstrap, alerts, db[0], text)
    try:
        alerts.send(alert("rain-HC-01"), alert("rain-HC-02"), alert("rain-HC-03"),
                    alert("rain-ST-01", district="Son Tra"),
                    alert("trf-HC-01", group="traffic", metric="speed", severity="critical"),
                    alert("trf-HC-02", group="traffic", metric="speed", severity="warning"),
                    alert("rain-HC-09", status="silenced"))
        wait_until(lambda: len(smtp.to("desk@danang.test")) == 2 and len(http.on("/hook")) == 2
                   and http.on("/sms"), 60, "two emails, two webhook posts and an SMS")
        by_district = {m["Subject"].split(" - ")[1].split(" ")[0]: m
                       for m in smtp.to("desk@danang.test")}
        hai_chau = text_of(by_district["Hai"])
        assert hai_chau.count("FIRING: rainfall high") == 3 and "rain-HC-09" not in hai_chau
        assert "rain-HC-00" not in hai_chau
        assert "Value: 42" in hai_chau and "http://wall.test:8080/?group=flooding" in hai_chau
        assert "<table>" in html_of(by_district["Hai"])
        for post in http.on("/hook"):
            assert post.headers[SIGNATURE_HEADER] == sign(post.body, "s3cret")
            assert post.json()["version"] == "4" and post.json()["receiver"] == "bridge"
        sizes = sorted(len(p.json()["alerts"]) for p in http.on("/hook"))
        assert sizes == [1, 3]
        (sms,) = http.on("/sms")
        assert sms.headers["Authorization"] == "Bearer gw-token"
        assert sms.json()["to"] == "+84905000001" and len(sms.json()["text"]) <= 160
        assert "trf-HC-02" not in sms.json()["text"]

        alerts.send(alert("rain-HC-02", version=2, status="resolved"))
        wait_until(lambda: len(smtp.to("desk@danang.test")) == 3, 30, "the resolved notice")
        resolved = text_of(smtp.to("desk@danang.test")[-1])
        assert "RESOLVED: rainfall high at rain-HC-02" in resolved
        assert resolved.count("FIRING") == 2  # the group's firing alerts, told with it
        assert n.metrics()['ioc_notify_sent_total{channel="email"}'] == 3
    finally:
        n.stop()


def test_escalation_stops_on_ack_with_an_audit_record_per_step(
        kafka_bootstrap: str, alerts: Alerts, db: tuple[str, Store], smtp: SmtpServer,
        http: HttpReceiver, tmp_path: Path) -> None:
    """Operator, then leader, then duty officer: the acknowledged alert's chain stops after
    the operator, the other runs to the end; ``ioc notify audit`` shows who was told, how,
    when and that it was delivered, and why the chain stopped."""
    text = channels(smtp, http) + f'''
[[receivers]]
name = "operator"
webhook = "{http.url}/operator"

[[receivers]]
name = "leader"
webhook = "{http.url}/leader"

[[receivers]]
name = "duty"
email = "duty@danang.test"

[[routes]]
name = "chain"
match = {{ severity = "critical" }}
escalation = [
  {{ after = "0s", receivers = ["operator"] }},
  {{ after = "4s", receivers = ["leader"] }},
  {{ after = "6s", receivers = ["duty"] }},
]
'''
    n = start(tmp_path, kafka_bootstrap, alerts, db[0], text)
    acked, open_ = alert("rain-HC-01", severity="critical"), alert("rain-HC-02",
                                                                   severity="critical")
    try:
        alerts.send(acked, open_)
        wait_until(lambda: len(http.on("/operator")) == 2, 30, "both told to the operator")
        alerts.send(alert("rain-HC-01", version=2, status="acknowledged", severity="critical",
                          user="operator:lan"))
        wait_until(lambda: smtp.to("duty@danang.test"), 30, "the open one reaches duty")
    finally:
        n.stop()
    ids = [p.json()["alerts"][0]["labels"]["alert_id"] for p in http.on("/leader")]
    assert ids == [open_.alert_id]
    assert open_.alert_id in text_of(smtp.to("duty@danang.test")[0]) or \
        "rain-HC-02" in text_of(smtp.to("duty@danang.test")[0])
    a = schema.notify_audit
    with db[1].connect() as conn:
        trail = conn.execute(sa.select(a.c.event, a.c.step, a.c.receiver, a.c.detail)
                             .where(a.c.alert_id == acked.alert_id).order_by(a.c.id)).all()
    assert [(t.event, t.step, t.receiver) for t in trail] == [
        ("notified", 0, "operator"), ("stopped", 1, None)]  # before step 2 ran
    assert trail[1].detail.startswith("acknowledged by operator:lan")
    from ioc.cli import cli

    out = CliRunner().invoke(cli, ["notify", "audit", open_.alert_id],
                             env={"IOC_DATABASE_URL": db[0]})
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) == 3 and all("delivered" in line for line in lines)
    assert "step 3" in lines[2] and "email" in lines[2]


def _hours_around_now(minutes: int) -> str:
    now = datetime.now(DA_NANG)
    a, b = now - timedelta(minutes=minutes), now + timedelta(minutes=minutes)
    return f"{a:%H:%M}-{b:%H:%M}"


def test_quiet_hours_hold_all_but_critical_per_user(
        kafka_bootstrap: str, alerts: Alerts, db: tuple[str, Store], smtp: SmtpServer,
        http: HttpReceiver, tmp_path: Path) -> None:
    """In their quiet hours Lan gets only the critical alert, Minh (who opted out of the
    critical override) nothing, Hoa (no quiet hours) both; each hold is audited."""
    url, store = db
    accounts, contacts = Accounts(store, min_password_length=8), Contacts(store)
    quiet = _hours_around_now(90)
    for login, extra in (("lan", {"quiet_hours": quiet}),
                         ("minh", {"quiet_hours": quiet, "quiet_critical": False}),
                         ("hoa", {})):
        accounts.add(login, "correct horse", role="operator")
        contacts.set(login, email=f"{login}@danang.test", **extra)
    text = channels(smtp, http) + '''
[defaults]
group_by = ["alert_id"]
group_wait = "0s"

[[receivers]]
name = "lan"
account = "lan"

[[receivers]]
name = "minh"
account = "minh"

[[receivers]]
name = "hoa"
account = "hoa"

[[routes]]
name = "all"
receivers = ["lan", "minh", "hoa"]
'''
    n = start(tmp_path, kafka_bootstrap, alerts, url, text)
    try:
        alerts.send(alert("rain-HC-01", severity="major"),
                    alert("rain-HC-02", severity="critical"))
        wait_until(lambda: len(smtp.to("hoa@danang.test")) == 2 and smtp.to("lan@danang.test"),
                   30, "Hoa told twice and Lan once")
        wait_until(lambda: len(_suppressed(store)) == 3, 30, "three holds audited")
    finally:
        n.stop()
    assert ["rain-HC-02" in m["Subject"] or "rain-HC-02" in text_of(m)
            for m in smtp.to("lan@danang.test")] == [True]
    assert smtp.to("minh@danang.test") == []
    assert sorted((r.receiver, r.detail) for r in _suppressed(store)) == [
        ("lan", "quiet_hours"), ("minh", "quiet_hours"), ("minh", "quiet_hours")]


def _suppressed(store: Store) -> list[sa.Row]:
    a = schema.notify_audit
    with store.connect() as conn:
        return list(conn.execute(sa.select(a).where(a.c.event == "suppressed")))


def test_the_daily_digest_reports_yesterday_per_group_and_district(
        kafka_bootstrap: str, alerts: Alerts, db: tuple[str, Store], smtp: SmtpServer,
        http: HttpReceiver, tmp_path: Path) -> None:
    """Yesterday's alerts in the archive become the leadership's digest email, in
    Vietnamese, with the figures per group and per district."""
    url, store = db
    yesterday = datetime.now(DA_NANG).replace(hour=10, minute=0, second=0, microsecond=0
                                              ) - timedelta(days=1)
    t0 = yesterday.timestamp()
    batch = Batch()
    for k, (source, group, district) in enumerate((
            ("rain-HC-01", "flooding", "Hai Chau"), ("rain-HC-02", "flooding", "Hai Chau"),
            ("trf-ST-01", "traffic", "Son Tra"))):
        batch.add("alerts", "x.alerts", 0, k, encode(alert(
            source, group=group, district=district, first_seen=t0 + k, updated_at=t0 + k)))
    store.write("archive", batch, expected={})
    text = channels(smtp, http) + '''
[[receivers]]
name = "leadership"
email = "leaders@danang.test"

[[routes]]
name = "none"
match = { group = "cybersecurity" }
receivers = ["leadership"]

[digest]
hour = 0
receivers = ["leadership"]
language = "vi"
'''
    n = start(tmp_path, kafka_bootstrap, alerts, url, text)
    try:
        (msg,) = wait_until(lambda: smtp.to("leaders@danang.test"), 30, "the digest")
    finally:
        n.stop()
    body = text_of(msg)
    day = yesterday.date().isoformat()
    assert "Báo cáo hằng ngày" in str(msg["Subject"]) or day in str(msg["Subject"])
    assert "Toàn thành phố: 3 mở" in body
    assert "Hai Chau: 2 mở" in body and "Son Tra: 1 mở" in body
    assert f"day {day}" in body


def test_takeover_is_the_notifier_groups_session_timeout(
        kafka_bootstrap: str, db: tuple[str, Store]) -> None:
    """``[notify] takeover`` is how long the broker waits for a silent notifier before its
    partitions move: the consumer's session timeout (the heartbeat stays well inside it)."""
    config = parse('[notify]\ntakeover = "7s"\n\n[[receivers]]\nname = "desk"\n'
                   'email = "desk@example.org"\n', "t.toml")
    notifier = Notifier(db[1], config, bootstrap=kafka_bootstrap, topics=["ioc.alerts"],
                        group_id="takeover-test", sla={})
    try:
        assert notifier.consumer.config["session_timeout_ms"] == 7000
        assert notifier.consumer.config["heartbeat_interval_ms"] * 3 <= 7000
    finally:
        notifier.consumer.close()
