"""The planner and the dispatcher on each of the archive's databases (no broker): records
become groups, chains and outbox rows exactly once; the dispatcher delivers them to a real
HTTP receiver, retries temporary failures and records permanent ones without blocking the
rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from kit import T0, HttpReceiver, alert
from prometheus_client import CollectorRegistry
from waits import wait_until

from archive import schema
from archive.accounts import Accounts, Scope
from archive.store import Fenced, Store
from ioc.events import encode
from notify.channels import SIGNATURE_HEADER, Sender, sign
from notify.config import parse
from notify.contacts import Contacts
from notify.dispatcher import Dispatcher
from notify.items import item_of
from notify.metrics import NotifyMetrics
from notify.planner import Planner


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


def config(url: str, extra: str = "") -> str:
    return f'''
[notify]
retry_base = "0.05s"
retry_max = "0.2s"
max_attempts = 50

[[receivers]]
name = "bridge"
webhook = "{url}/hook"
webhook_secret = "s3cret"

[[receivers]]
name = "lan"
account = "lan"

[[receivers]]
name = "gone"
webhook = "{url}/gone"

[[routes]]
name = "floods"
match = {{ group = "flooding" }}
receivers = ["bridge"]
group_wait = "0s"
group_interval = "0s"
{extra}
'''


def records(*alerts: object, start: int = 0) -> list[tuple[str, int, int, bytes]]:
    return [("t.alerts", 0, start + n, encode(a)) for n, a in enumerate(alerts)]  # type: ignore[arg-type]


def planned(p: Planner, batch: list[tuple[str, int, int, bytes]],
            expected: dict[tuple[str, int], int | None], now: float) -> list[dict[str, object]]:
    """The rows ``batch`` planned: at once (a group due already is flushed as it takes the
    records) or at the next tick."""
    return p.ingest(batch, expected, now=now).plan.rows + p.tick(now=now).rows


def rows(store: Store, **where: object) -> list[sa.Row]:
    t = schema.notify_outbox
    q = sa.select(t)
    for k, v in where.items():
        q = q.where(t.c[k] == v)
    with store.connect() as conn:
        return list(conn.execute(q.order_by(t.c.created_at, t.c.key)))


def test_a_record_is_planned_once_even_when_read_again(store: Store, receiver: HttpReceiver
                                                       ) -> None:
    """The same records read by a second planner (a restart that lost its offsets) plan
    nothing new: the group already holds those versions."""
    cfg = parse(config(receiver.url), "t.toml")
    p = Planner(store, cfg, consumer="n1", contacts=dict)
    batch = records(alert("rain-HC-01"), alert("rain-HC-02"))
    now = time.time()
    assert len(planned(p, batch, {}, now)) == 1
    with pytest.raises(Fenced):
        p.ingest(batch, {}, now=now)  # a stale writer: the offset is stored already
    again = Planner(store, cfg, consumer="n2", contacts=dict)
    assert planned(again, batch, {}, now + 1) == []
    assert len(rows(store)) == 1
    payload = rows(store)[0]
    assert payload.channel == "webhook" and payload.status == "pending"


def run_dispatcher(store: Store, cfg_text: str) -> tuple[threading.Event, NotifyMetrics,
                                                           threading.Thread]:
    cfg = parse(cfg_text, "t.toml")
    metrics = NotifyMetrics(CollectorRegistry())
    d = Dispatcher(store, cfg, Sender(cfg).send, metrics=metrics, lock=threading.Lock(),
                   wake=threading.Event())
    stop = threading.Event()
    t = threading.Thread(target=d.run, args=(stop,), daemon=True)
    t.start()
    return stop, metrics, t


def test_failures_are_retried_or_recorded_and_never_block_others(store: Store,
                                                                 receiver: HttpReceiver
                                                                 ) -> None:
    """A receiver answering 503 is retried until it recovers; one answering 404 fails for
    good with its reason, while the others' deliveries go through."""
    text = config(receiver.url, extra='''
[[routes]]
name = "traffic"
match = { group = "traffic" }
receivers = ["gone"]
group_wait = "0s"
''')
    p = Planner(store, parse(text, "t.toml"), consumer="n", contacts=dict)
    p.ingest(records(alert("rain-HC-01"), alert("trf-HC-01", group="traffic",
                                                 metric="speed")), {})
    p.tick()
    receiver.fail = {"/hook": 503, "/gone": 404}
    stop, metrics, t = run_dispatcher(store, text)
    try:
        wait_until(lambda: metrics.retried.labels("webhook")._value.get() >= 3, 20,
                   "three retries of the failing webhook")
        wait_until(lambda: rows(store, status="failed"), 20, "the 404 recorded as failed")
        receiver.fail = {"/gone": 404}
        wait_until(lambda: receiver.on("/hook"), 20, "the webhook delivered after recovery")
    finally:
        stop.set()
        t.join(10)
    failed = rows(store, status="failed")
    assert len(failed) == 1 and failed[0].receiver == "gone"
    assert failed[0].reason.startswith("HTTP 404") and failed[0].attempts == 1
    sent = rows(store, status="sent")
    assert len(sent) == 1 and sent[0].attempts >= 4
    hook = receiver.on("/hook")[0]
    assert hook.headers[SIGNATURE_HEADER] == sign(hook.body, "s3cret")
    assert hook.key == sent[0].key
    body = hook.json()
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["alerts"][0]["labels"]["alertname"] == "rainfall"
    assert metrics.failed.labels("webhook")._value.get() == 1
    from click.testing import CliRunner

    from ioc.cli import cli

    url = store.engine.url.render_as_string(hide_password=False)
    shown = CliRunner().invoke(cli, ["notify", "failed"], env={"IOC_DATABASE_URL": url})
    assert shown.exit_code == 0, shown.output
    (line,) = shown.output.splitlines()
    assert "webhook" in line and "gone" in line and "attempts 1: HTTP 404" in line


def test_accounts_preferences_choose_channels_and_quiet_hours(store: Store,
                                                              receiver: HttpReceiver) -> None:
    """An account receiver gets its own addresses, from its minimum severity, within its
    scope, and nothing but critical in its quiet hours."""
    Accounts(store, min_password_length=8).add("lan", "correct horse", role="operator",
                                                scope=Scope(("Hai Chau",), ()))
    Contacts(store).set("lan", email="lan@example.org", phone="+84905000001",
                        min_severity="major", quiet_hours="00:00-06:00")
    text = config(receiver.url).replace('receivers = ["bridge"]', 'receivers = ["lan"]')
    p = Planner(store, parse(text, "t.toml"), consumer="n", contacts=Contacts(store).all)
    noon, night = T0, T0 + 13 * 3600  # 12:00 and 01:00 in Da Nang
    told = planned(p, records(alert("a1"), alert("a2", severity="warning"),
                              alert("a3", district="Son Tra")), {}, noon)
    assert sorted(str(r["channel"]) for r in told) == ["email", "sms"]
    assert "a1" in str(told[0]["message"])
    with store.connect() as conn:  # a3's group (Son Tra) told nobody: the hold is audited
        held = [r.detail for r in conn.execute(sa.select(schema.notify_audit))]
    assert held == ["scope"]
    told = planned(p, records(alert("a4"), alert("a5", severity="critical"), start=3),
                   {("t.alerts", 0): 3}, night)
    assert sorted(str(r["channel"]) for r in told) == ["email", "sms"]
    assert all("a5" in str(r["message"]) and "a4" not in str(r["message"]) for r in told)


def test_the_mbox_transport_appends_mail_a_reader_opens(tmp_path: Path) -> None:
    """With ``[smtp] mbox`` (the demo) each email lands in a local mailbox file, text and
    HTML, with the idempotency key as its Message-ID."""
    import mailbox

    from notify.messages import email
    from notify.outbox import Row, encode_message

    box = tmp_path / "mail.mbox"
    cfg = parse(f'[smtp]\nmbox = "{box}"\n', "t.toml")
    message = email([item_of(alert("rain-HC-01"))], "firing", "vi", "http://wall")
    row = Row("k1", "group", "r", None, None, "desk", "email", "desk@x.test",
              encode_message(message), 0, time.time(), time.time())
    assert Sender(cfg).send(row).result == "ok"
    assert Sender(cfg).send(row).result == "ok"
    (first, second) = list(mailbox.mbox(str(box)))
    assert first["Message-ID"] == second["Message-ID"] == "<k1@ioc-monitor>"
    assert first["To"] == "desk@x.test" and "rainfall high" in str(first["Subject"])
    assert first.is_multipart()
