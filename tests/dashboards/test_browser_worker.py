"""The whole flow in headless Chromium: readings with an injected anomaly go to a real
``ioc worker`` (subprocess), its alert reaches the wall through the real dashboard server, an
operator acknowledges it on the page, the worker applies the command, and a second websocket
client sees the alert acknowledged.

Budgets: the anomaly's alert is on the wall within ``ANOMALY_SECONDS`` (60 s) of producing the
readings; the acknowledgement is back within ``ACK_SECONDS`` (30 s) of the click. Measured
figures are printed with ``-s``; the screenshot is ``test-artifacts/wall-worker.png``.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from dashkit import LEADERSHIP, open_client
from test_browser import Tab, chromium, open_tab

from dashboards.feed import Topics
from ioc.events import Reading, encode
from ioc.kafka.admin import ensure_topics
from ioc.kafka.broker import free_port
from ioc.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]

IOC = str(Path(sys.executable).with_name("ioc"))
ANOMALY_SECONDS = 60.0
ACK_SECONDS = 30.0
PARTITIONS = 2
SOURCE = "flood-HC-01"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest.fixture
def prefix() -> str:
    return f"wall{uuid.uuid4().hex[:8]}"


@pytest.fixture
def topic_names(kafka_bootstrap: str, prefix: str) -> Topics:
    """The worker's topics under this test's prefix (overrides tests/dashboards/conftest.py),
    created up front with the worker's own specs."""
    from streams.topics import TopicNames

    names = TopicNames(prefix)
    ensure_topics(names.specs(Settings(partitions=PARTITIONS)), kafka_bootstrap)
    return Topics(alerts=names.alerts, indicators=names.indicators, commands=names.commands)


@pytest.fixture
def worker(kafka_bootstrap: str, prefix: str, topic_names: Topics, tmp_path: Path
           ) -> Iterator[int]:
    """A real `ioc worker` on the prefix's topics; yields its web port once it is ready."""
    from ioc.cli import cli
    from streams.worker import wait_ready

    assert "worker" in cli.commands, "ioc.cli has no `worker` command"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_KAFKA_BOOTSTRAP=kafka_bootstrap, IOC_APP_ID=f"{prefix}-app",
               IOC_WORKER_PORT=str(port), IOC_DATA_DIR=str(tmp_path / "worker"),
               IOC_PARTITIONS=str(PARTITIONS), IOC_LOG_LEVEL="WARNING")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([IOC, "worker", "--topic-prefix", prefix], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_ready(port, timeout=120)
        except Exception as exc:
            raise AssertionError(f"worker not ready: {exc}\n{log.read_text()[-3000:]}") from None
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def flood_readings(start: float) -> list[Reading]:
    """35 minutes of normal flood depth at one tower every 10 s, a 3-minute flood (45 cm),
    then 3 quiet minutes that move the worker's clock past the flood's windows."""
    out = []
    for i in range(6 * 41):
        ts = start + 10 * i
        if 6 * 35 <= i < 6 * 38:
            value = 45.0 + (i % 3)
        else:
            value = round(2.0 + 0.6 * math.sin(i / 3.0) + 0.1 * (i % 4), 2)
        out.append(Reading(group="flooding", source=SOURCE, metric="flood_depth", value=value,
                           ts=ts, district="Hai Chau", unit="cm"))
    return out


async def test_anomaly_to_wall_and_ack_through_a_real_worker(
        browser: Any, worker: int, start_dashboard: Any, kafka_bootstrap: str,
        prefix: str) -> None:
    d = await start_dashboard()
    other = await open_client(d, LEADERSHIP)
    await other.until("snapshot")
    tab: Tab = await open_tab(browser, d.wall_url)
    await tab.live()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        started = time.monotonic()
        for r in flood_readings(time.time() - 45 * 60):
            await producer.send(f"{prefix}.flooding.events", encode(r), key=SOURCE.encode())
        await producer.flush()
    finally:
        await producer.stop()

    row = tab.page.locator(
        f'#board li.alert[data-alert-id$=":flooding:{SOURCE}:flood_depth"]').first
    await row.wait_for(timeout=ANOMALY_SECONDS * 1000)
    elapsed = time.monotonic() - started
    print(f"\nreadings produced -> worker alert on the wall: {elapsed:.1f} s "
          f"(budget {ANOMALY_SECONDS:g} s)")
    alert_id = await row.get_attribute("data-alert-id")
    assert alert_id and await row.get_attribute("data-status") == "firing"
    assert await row.get_attribute("data-group") == "flooding"

    clicked = time.monotonic()
    await row.locator('[data-action="ack"]').click()
    await tab.page.wait_for_selector(
        f'#board li.alert[data-alert-id="{alert_id}"][data-status="acknowledged"]',
        timeout=ACK_SECONDS * 1000)
    print(f"ack clicked -> acknowledged on the wall: {time.monotonic() - clicked:.1f} s "
          f"(budget {ACK_SECONDS:g} s)")
    delta = await other.until(
        "delta", timeout=ACK_SECONDS,
        where=lambda f: f["data"].get("alert_id") == alert_id
        and f["data"].get("status") == "acknowledged")
    assert delta["data"]["user"].startswith("operator")
    assert delta["data"]["change"] == "acknowledged"
    await asyncio.sleep(0.3)  # let the toast and row settle for the picture
    print("screenshot:", await tab.shot("wall-worker.png"))
    # the detail draws the worker's evidence with the catalog's breach limit (20 cm)
    await row.click()
    detail = tab.page.locator("#detail")
    await detail.wait_for(state="visible", timeout=5000)
    assert await detail.locator("svg.spark-big .spark-threshold").count() == 1
    assert "limit 20" in await detail.locator(".legend").inner_text()
    await detail.locator("details.engineers summary").click()  # the detector: for engineers
    assert delta["data"]["evidence"]["detector"] in await detail.inner_text()
    print("screenshot:", await tab.shot("wall-worker-detail.png"))
    await other.close()
    assert tab.errors == []


async def test_an_ack_by_a_person_names_them_on_a_second_operators_wall(
        browser: Any, worker: int, start_dashboard: Any, kafka_bootstrap: str,
        prefix: str, tmp_path: Path) -> None:
    """Two operators signed in as themselves: Lan acknowledges the worker's alert on her
    wall, and Hoa's wall says who did it (the name travels in the command, the worker's alert
    version and the dashboard's delta: issue 12)."""
    import dataclasses

    from dashkit import SETTINGS, accounts_db
    from test_browser import sign_in

    url = accounts_db(tmp_path, ("lan", "Lan Nguyen", "operator"), ("hoa", "Hoa Pham", "operator"))
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=url))
    lan: Tab = await open_tab(browser, "about:blank")
    hoa: Tab = await open_tab(browser, "about:blank")  # a browser of her own (own cookies)
    await sign_in(lan, d.url, "lan")
    await sign_in(hoa, d.url, "hoa")

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        for r in flood_readings(time.time() - 45 * 60):
            await producer.send(f"{prefix}.flooding.events", encode(r), key=SOURCE.encode())
        await producer.flush()
    finally:
        await producer.stop()

    selector = f'#board li.alert[data-alert-id$=":flooding:{SOURCE}:flood_depth"]'
    row = lan.page.locator(selector).first
    await row.wait_for(timeout=ANOMALY_SECONDS * 1000)
    alert_id = await row.get_attribute("data-alert-id")
    # the alert keeps updating while the anomaly lasts (its row re-renders): act from its
    # detail panel, which stays put
    await row.click()
    await lan.page.locator('#detail [data-action="ack"]').click()
    theirs = hoa.page.locator(f'#board li.alert[data-alert-id="{alert_id}"]'
                              '[data-status="acknowledged"]')
    await theirs.wait_for(timeout=ACK_SECONDS * 1000)
    assert "Acknowledged by Lan Nguyen" in await theirs.inner_text()
    assert lan.errors == [] and hoa.errors == []
