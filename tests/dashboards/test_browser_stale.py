"""Stale data on the pages (issue 9 defect 5, the wall half), the engineers' unregistered
sources (defect 11) and the pages under their Content-Security-Policy (defect 10), in headless
Chromium against the real dashboard server and a real Kafka broker."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from dashkit import ENGINEER, SETTINGS, Producer, make_window
from test_browser import chromium, indicators, open_tab

from dashboards.feed import Topics
from dashboards.server import Dashboard

pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(180)]

STALE_JS = "document.body.dataset.stale || ''"


class Watched:
    """A tab plus the Content-Security-Policy violations its console reported."""

    def __init__(self, tab: Any) -> None:
        self.tab = tab
        self.page = tab.page
        self.csp: list[str] = []
        self.page.on("console", lambda m: self.csp.append(m.text)
                     if "Content Security Policy" in m.text else None)

    async def stale(self, kind: str, timeout: float = 20.0) -> str:
        """Wait until the banner says ``kind`` (``''``: no banner); return its text."""
        await self.page.wait_for_function(f"() => ({STALE_JS}) === {kind!r}",
                                          timeout=timeout * 1000)
        text: str = await self.page.inner_text("#stale") if kind else ""
        return text


async def watch(browser: Any, url: str) -> Watched:
    """Open ``url`` and wait until the page is connected (the wall: and has its snapshot)."""
    tab = Watched(await open_tab(browser, url))
    if "/summary" in url:
        await tab.page.wait_for_function("() => document.body.dataset.conn === 'connected'",
                                         timeout=15_000)
    else:
        await tab.tab.live()
    return tab


async def test_the_wall_shows_a_stale_banner_with_the_age_when_the_server_is_gone(
        producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    """The dashboard goes away: the wall keeps its alerts but says, in a banner with the age of
    its data, that they are not updating; once a dashboard answers again on the same port the
    page reconnects and the banner goes away."""
    await producer.indicators(indicators("flooding", "Hai Chau"))
    d = await start_dashboard()
    async with chromium() as browser:
        wall = await watch(browser, d.wall_url)
        assert await wall.stale("") == ""
        assert await wall.page.is_hidden("#stale")
        await d.stop()
        text = await wall.stale("disconnected")
        assert "lost" in text and " old" in text
        await wall.page.wait_for_function(
            "() => Number(document.getElementById('stale').dataset.ageS) >= 1", timeout=10_000)
        text = await wall.page.inner_text("#stale")
        assert any(f"{n} s old" in text for n in range(1, 60)), text
        assert await wall.page.is_visible("#stale")

        again = Dashboard(SETTINGS, kafka_bootstrap, host="127.0.0.1", port=d.port,
                          topic_names=topic_names)
        await again.start()
        try:
            await wall.stale("", timeout=40)
            assert await wall.page.is_hidden("#stale")
            assert await wall.tab.data("conn") == "connected"
        finally:
            await again.stop()
        assert wall.csp == [] and wall.tab.errors == []


async def test_wall_and_summary_warn_when_indicators_stop_and_clear_when_they_resume(
        producer: Producer, start_dashboard: Any) -> None:
    """Connected, but no indicator for longer than the server's stale_after_s: both pages show
    the banner with how long it has been; a new indicator clears it. Neither page trips its
    Content-Security-Policy (no inline script or style)."""
    await producer.indicators(indicators("flooding", "Hai Chau"))
    d = await start_dashboard(settings=replace(SETTINGS, dashboard_stale_after_s=2.0),
                              heartbeat_s=0.3)
    async with chromium() as browser:
        wall = await watch(browser, d.wall_url)
        summary = await watch(browser, d.summary_url)
        for page in (wall, summary):
            text = await page.stale("indicators")
            assert "No new indicators for" in text and " s:" in text, text
        await producer.indicators(indicators("traffic", "Son Tra"))
        for page in (wall, summary):
            await page.stale("", timeout=10)
        assert wall.csp == [] and summary.csp == []
        assert wall.tab.errors == [] and summary.tab.errors == []
        await page_has_policy(wall)


async def page_has_policy(tab: Watched) -> None:
    response = await tab.page.reload()
    assert response is not None
    headers = await response.all_headers()
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


async def test_engineers_see_unregistered_sources_on_the_wall_operators_do_not(
        producer: Producer, start_dashboard: Any) -> None:
    """A window summary of a source the catalog does not list: the engineer's wall lists it
    under "Unregistered sources" with its group; the operator's wall has no such panel."""
    await producer.indicators([make_window("rain-ZZ-77")])
    d = await start_dashboard(summary_every_s=0.1)
    async with chromium() as browser:
        eng = await watch(browser, f"{d.url}/#token={ENGINEER}")
        op = await watch(browser, d.wall_url)
        panel = eng.page.locator("#unregistered")
        await panel.wait_for(state="visible", timeout=10_000)
        assert "rain-ZZ-77" in await panel.inner_text()
        await producer.indicators([make_window("rain-ZZ-78")])
        await eng.page.locator('#unreg-list [data-group="flooding"][data-count="2"]').wait_for(
            timeout=10_000)
        assert "rain-ZZ-78" in await panel.inner_text()
        assert await op.page.is_hidden("#unregistered")
        assert "rain-ZZ" not in await op.page.content()
        assert eng.csp == [] and op.csp == []
