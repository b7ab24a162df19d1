"""The archive in headless Chromium against the real dashboard server (real Kafka) and a real
SQLite archive holding :func:`archive.sample.sample_day`: the wall's history panel finds a past
alert and shows its versions and the acknowledging user; a live alert's detail shows its
history from the store; the /reports page renders the figures, its period picker changes them,
its CSV link downloads the CSV, and a store that is down shows the reason. No page error under
the strict CSP."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dashkit import LEADERSHIP, OPERATOR, SETTINGS, Producer
from test_browser import alert, chromium, open_tab

from archive import report
from archive.sample import sample_day
from archive.store import Store

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]

DAY = "2026-12-02"
T0 = report.period("day", DAY).start
FLOOD = "robust_z:flooding:flood-HC-01:flood_depth"


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest.fixture
def archive_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    store = Store(url)
    store.migrate()
    sample_day(store, T0)
    store.close()
    return url


async def test_the_history_panel_finds_a_past_alert_and_the_detail_shows_its_history(
        browser: Any, producer: Producer, start_dashboard: Any, archive_url: str) -> None:
    live = alert("flood-HC-01", detector="robust_z", version=9, change="reopened",
                 updated_at=time.time())
    assert live.alert_id == FLOOD
    await producer.alerts([live])
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=archive_url))
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    page = tab.page

    # the history panel: search by text and group, page through, open a past alert
    await page.locator("#btn-history").click()
    await page.locator("#h-text").fill("flood depth 34")
    await page.locator("#h-group").select_option("flooding")
    await page.locator("#h-search").click()
    rows = page.locator("#h-results li.hist-row")
    await playwright_api.expect(rows).to_have_count(8, timeout=10000)
    assert await page.locator("#h-more").is_hidden()
    assert "resolved" in await rows.first.inner_text()
    await page.locator("#h-status").select_option("acknowledged")
    await page.locator("#h-search").click()
    await playwright_api.expect(rows).to_have_count(3, timeout=10000)  # 2 acks + the note
    await rows.first.click()
    past = page.locator("#h-detail .d-history[data-loaded='true']")
    await playwright_api.expect(past).to_have_count(1, timeout=10000)
    versions = past.locator("table.h-versions tbody tr")
    await playwright_api.expect(versions).to_have_count(8)
    ack = past.locator("tr[data-change='acknowledged']").first
    # who: the person's name (here no display name: the login), the full user in the title
    assert "lan" in await ack.inner_text()
    assert await ack.locator(".h-user").get_attribute("title") == "operator:lan"
    assert "crew at the pump" in await past.inner_text()
    assert "crew sent" in await past.locator("ol.h-commands").inner_text()
    await page.locator("#h-close").click()

    # a live alert's detail: its history from the store below the notes
    await tab.row(FLOOD).click()
    detail = page.locator("#detail .d-history[data-loaded='true']")
    await playwright_api.expect(detail).to_have_count(1, timeout=10000)
    assert await detail.locator(".h-user[title='operator:lan']").count() >= 1
    await playwright_api.expect(detail.locator("tbody tr")).to_have_count(8)
    assert tab.errors == []
    await tab.shot("wall-history.png")


async def test_the_reports_page_period_picker_and_csv(browser: Any, start_dashboard: Any,
                                                      archive_url: str) -> None:
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=archive_url))
    tab = await open_tab(browser, f"{d.url}/reports?period=day&from={DAY}#token={LEADERSHIP}")
    page = tab.page
    await page.wait_for_function("() => document.body.dataset.loaded === '1'", timeout=15000)
    assert await page.locator("#r-opened").inner_text() == "3"
    assert "-67 %" in await page.locator("#r-mtta-trend").inner_text()
    flooding = page.locator('#r-groups tr[data-group="flooding"]')
    assert (await flooding.locator("td").nth(1).inner_text()) == "2"
    assert await page.locator('#r-kpis .kpi-chart[data-kpi="flooding/max_depth"] svg'
                              ).count() == 1
    assert "flood-HC-01" in await page.locator("#r-sources").inner_text()

    # the period before: only the earlier episode
    await page.locator("#prev").click()
    await page.wait_for_function("() => document.body.dataset.loaded === '2'", timeout=15000)
    assert await page.locator("#r-opened").inner_text() == "1"
    assert await page.locator("body").get_attribute("data-period") == "day 2026-12-01"
    # a week holding both days
    await page.locator("#period").select_option("week")
    await page.wait_for_function("() => document.body.dataset.loaded === '3'", timeout=15000)
    assert await page.locator("#r-opened").inner_text() == "4"
    # a district with nothing
    await page.locator("#district").select_option("Son Tra")
    await page.wait_for_function("() => document.body.dataset.loaded === '4'", timeout=15000)
    assert await page.locator("#r-opened").inner_text() == "0"

    async with page.expect_download(timeout=15000) as info:
        await page.locator("#csv").click()
    download = await info.value
    assert download.suggested_filename == "ioc-report-2026-11-30-2026-12-06.csv"
    text = Path(await download.path()).read_text()
    assert text.splitlines()[0].startswith("kind,name,opened,")
    assert text.splitlines()[1].startswith("city,all,0,")
    assert tab.errors == []
    await page.emulate_media(media="print")
    assert await page.locator("#picker").is_hidden()
    await tab.shot("reports-print.png")


async def test_the_reports_page_says_why_when_the_store_is_down(
        browser: Any, start_dashboard: Any) -> None:
    down = "postgresql+psycopg://ioc@127.0.0.1:9/ioc?connect_timeout=2"
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=down))
    tab = await open_tab(browser, f"{d.url}/reports#token={OPERATOR}")
    banner = tab.page.locator("#banner")
    await playwright_api.expect(banner).to_be_visible(timeout=15000)
    text = await banner.inner_text()
    assert "503" in text and "archive database is unavailable" in text
    assert tab.errors == []
