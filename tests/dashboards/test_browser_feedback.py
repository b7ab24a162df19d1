"""Detector feedback in headless Chromium: the wall's resolve carries the label chosen in the
alert detail to the commands topic; the reports page shows the "Detector feedback" section to
an engineer and keeps it hidden from an operator (the server refuses them)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dashkit import ENGINEER, OPERATOR, SETTINGS, Producer
from test_browser import alert, chromium, commands_on, open_tab
from test_feedback_panel import labelled

from archive.feedback import write_feedback
from archive.store import Store
from dashboards.feed import Topics

pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def test_a_resolve_from_the_wall_carries_the_chosen_label(
        browser: Any, producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    a = alert("flood-HC-05", severity="major", detector="robust_z")
    await producer.alerts([a])
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    await tab.row(a.alert_id, "#board").click()
    detail = tab.page.locator("#detail")
    await detail.wait_for(state="visible", timeout=5000)
    await tab.page.wait_for_selector("#cmd-label", timeout=5000)
    await tab.page.select_option("#cmd-label", "false_alarm")
    await tab.page.fill("#cmd-reason", "a bin lorry parked on the sensor")
    await detail.locator('.commands [data-action="resolve"]').click()
    await tab.page.wait_for_function("() => document.body.dataset.lastCommand", timeout=15000)
    (cmd,) = await commands_on(topic_names.commands, kafka_bootstrap, 1)
    assert (cmd.action, cmd.alert_id, cmd.label, cmd.reason) == (
        "resolve", a.alert_id, "false_alarm", "a bin lorry parked on the sensor")
    assert tab.errors == []


async def test_the_reports_page_shows_detector_feedback_to_engineers_only(
        browser: Any, start_dashboard: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    store = Store(url)
    store.migrate()
    write_feedback(store, [labelled(1, "real"), labelled(2, "false_alarm")], [])
    store.close()
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=url))
    tab = await open_tab(browser, f"{d.url}/reports#token={ENGINEER}")
    await tab.page.wait_for_function("() => document.body.dataset.feedback === 'shown'",
                                     timeout=15000)
    section = tab.page.locator("#r-feedback")
    await section.wait_for(state="visible", timeout=5000)
    row = await section.locator("tbody tr").first.inner_text()
    assert "robust_z" in row and "flooding" in row and "50%" in row
    other = await open_tab(browser, f"{d.url}/reports#token={OPERATOR}")
    await other.page.wait_for_function("() => document.body.dataset.feedback === 'hidden'",
                                       timeout=15000)
    assert await other.page.locator("#r-feedback").is_hidden()
    assert tab.errors == [] and other.errors == []
