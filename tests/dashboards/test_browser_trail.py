"""The trail names people on the wall, in headless Chromium against the real dashboard server
and a real Kafka broker (issue 12): an acknowledged alert's row says who acknowledged it,
its detail says "acknowledged by <name> at <time>: <reason>", and its notes name their
authors; the same record from a shared token names the role only.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dashkit import Producer
from test_browser import alert, chromium, next_version, open_tab

from ioc.events import Note

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def test_an_ack_shows_the_persons_name_on_the_wall(
        browser: Any, producer: Producer, start_dashboard: Any) -> None:
    a = alert("flood-HC-05", severity="major")
    acked = next_version(a, status="acknowledged", change="acknowledged", user="operator:lan",
                         display_name="Lan Nguyen", reason="crew sent",
                         updated_at=time.time() - 60)
    noted = next_version(acked, change="note", user="operator:minh", display_name="Minh Tran",
                         notes=[Note(ts=time.time() - 30, user="operator:minh",
                                     display_name="Minh Tran", text="pump truck on site")])
    by_token = alert("flood-HC-06", severity="major")
    token_ack = next_version(by_token, status="acknowledged", change="acknowledged",
                             user="operator", updated_at=time.time() - 60)
    await producer.alerts([a, acked, by_token, token_ack])
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    row = tab.row(a.alert_id, "#board")
    await row.wait_for(timeout=5000)
    assert "Acknowledged by Lan Nguyen" in await row.inner_text()
    assert "Acknowledged by operator" in await tab.row(by_token.alert_id, "#board").inner_text()
    await row.click()
    facts = tab.page.locator("#detail-body dl.facts")
    await facts.wait_for(timeout=5000)
    status = await facts.locator("dd").first.inner_text()
    assert re.fullmatch(r"acknowledged by Lan Nguyen at \d\d:\d\d(:\d\d)?: crew sent", status), \
        status
    await producer.alerts([noted])       # a later version: the note names its author
    await playwright_api.expect(tab.page.locator("#detail-body ol.notes li")).to_have_count(
        1, timeout=5000)
    note = await tab.page.locator("#detail-body ol.notes li").inner_text()
    assert "Minh Tran" in note and "pump truck on site" in note
    status = await facts.locator("dd").first.inner_text()
    assert status.startswith("acknowledged by Lan Nguyen at "), status  # the note's author
    assert "Acknowledged by Lan Nguyen" in await row.inner_text()       # does not own it
    assert tab.errors == []
