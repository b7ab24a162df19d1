"""Fit to the wall (issue 13): in kiosk mode the wall and the summary fill 1920x1080 and
3840x2160 exactly, with 0, 3 and 200 open alerts: the page never scrolls, the alert list pages
inside its own panel, no text in a tile is cut, the map shows the 8 districts and the sources.
Headless Chromium against the real dashboard server and a real Kafka broker; a screenshot of
each case goes to ``test-artifacts/``."""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import LEADERSHIP, OPERATOR, Producer
from test_browser import NOW, Tab, alert, chromium, indicators

from ioc import catalog, i18n

pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]

SIZES = [(1920, 1080), (3840, 2160)]
# A long title as operators will read them: the wall must keep it to two lines.
TITLE = ("Flood depth 34 cm at Hoa Cuong Bac tower, {district}: above its normal 0-5 cm "
         "for the last 20 minutes, rising")

# What the page measures: its own scroll, and every tile whose text does not fit.
MEASURE = """(tiles) => {
  const d = document.documentElement;
  const cut = [];
  document.querySelectorAll(tiles).forEach((e) => {
    if (e.offsetParent === null) return;
    if (e.scrollWidth > e.clientWidth + 1) cut.push(`${e.className}: ${e.textContent} (width)`);
    if (e.scrollHeight > e.clientHeight + 1) cut.push(`${e.className}: ${e.textContent} (height)`);
  });
  return {scrollHeight: d.scrollHeight, innerHeight: window.innerHeight,
          scrollWidth: d.scrollWidth, innerWidth: window.innerWidth,
          bodyHeight: document.body.scrollHeight, cut};
}"""
# Turn the board's page as kiosk mode does: the page before and after, the pages, whether the
# new page starts with a whole row (or is the end of the list), and the panel's page mark.
TURN = """() => {
  const b = document.getElementById('board');
  const before = Number(b.dataset.page || 1);
  window.IOCFit.turn();
  const page = Number(b.dataset.page);
  const first = [...b.children].find((e) => e.offsetTop + e.offsetHeight > b.scrollTop + 1);
  const top = b.scrollTop + b.clientHeight >= b.scrollHeight - 1 ||
    Math.abs(first.offsetTop - b.firstElementChild.offsetTop - b.scrollTop) <= 1;
  return [before, page, Number(b.dataset.pageCount), top,
          document.querySelector('#board-title .page-mark').textContent];
}"""
# How many lines each element's text takes (queried and measured in one go: the board
# re-renders, and elements handed over from an earlier query may be gone by then).
LINES = """(selector) => [...document.querySelectorAll(selector)].map((e) => {
  const style = getComputedStyle(e);
  const line = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize);
  return Math.round(e.getBoundingClientRect().height / line);
})"""
# The vertical centres of the top bar's visible items, to the pixel (one line: all within a
# few pixels of each other).
TOPBAR_CENTRES = """() => [...document.querySelectorAll('.topbar > *, .topbar-right > *')]
  .filter((e) => e.offsetParent !== null && !e.classList.contains('topbar-right'))
  .map((e) => { const r = e.getBoundingClientRect(); return Math.round(r.top + r.height / 2); })"""
WALL_TILES = ".tile, .tile > span"
SUMMARY_TILES = ".gcard .g-name, .gcard .g-band, .gcard .rag-word"


def city_alerts(n: int) -> list[Any]:
    """``n`` open city alerts over the groups and mainland districts, every severity."""
    sources = [s for s in catalog.all_sources() if s.district != "Hoang Sa"]
    severities = ("critical", "major", "warning", "major", "warning")
    out = []
    for i in range(n):
        s = sources[(i * 7) % len(sources)]
        (kind,) = [k for k in catalog.group(s.group).source_kinds if k.name == s.kind]
        metric = next((m.name for m in kind.metrics if not m.counted), kind.metrics[0].name)
        out.append(alert(s.id, group=s.group, metric=metric, district=s.district,
                         severity=severities[i % len(severities)], detector=f"d{i}",
                         title=TITLE.format(district=s.district), first_seen=NOW - 60 * i))
    return out


async def measure(tab: Tab, tiles: str) -> dict[str, Any]:
    result: dict[str, Any] = await tab.page.evaluate(MEASURE, tiles)
    return result


def assert_fits(m: dict[str, Any], where: str) -> None:
    assert m["scrollHeight"] <= m["innerHeight"], f"{where}: the page scrolls vertically {m}"
    assert m["bodyHeight"] <= m["innerHeight"], f"{where}: the body is taller than the window"
    assert m["scrollWidth"] <= m["innerWidth"], f"{where}: the page scrolls sideways {m}"
    assert m["cut"] == [], f"{where}: text cut in tiles: {m['cut'][:5]}"


async def open_page(browser: Any, url: str, size: tuple[int, int]) -> Tab:
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    tab = Tab(await context.new_page())
    await tab.page.goto(url)
    return tab


async def map_drawn(tab: Tab) -> None:
    """The map shows the 8 districts and at least the sources that stay put."""
    await tab.page.wait_for_function(
        "() => { const m = document.getElementById('map');"
        " return m && m.dataset.districts === '8' && Number(m.dataset.markers || 0) > 100; }",
        timeout=15_000)
    assert await tab.page.locator("#map path.district").count() == 8
    assert "CC BY 3.0 IGO" in await tab.page.inner_text("#map .map-attrib")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_wall_and_the_summary_fit_the_screen_with_0_3_and_200_alerts(
        size: tuple[int, int], producer: Producer, start_dashboard: Any) -> None:
    """Kiosk mode: no page scroll either way and no cut tile text with 0, 3 and 200 open
    alerts; with 200 the board pages inside its panel (more than one page, turned by
    fit.js); the map is drawn; a screenshot of every case."""
    await producer.indicators([gi for g in catalog.CATALOG for d in catalog.MAINLAND
                               for gi in indicators(g.slug, d)])
    d = await start_dashboard()
    label = f"{size[0]}x{size[1]}"
    async with chromium() as browser:
        wall = await open_page(browser, f"{d.url}/?kiosk=1#token={OPERATOR}", size)
        await wall.live()
        summary = await open_page(browser, f"{d.url}/summary?kiosk=1#token={LEADERSHIP}", size)
        await summary.page.wait_for_function("() => document.body.dataset.conn === 'connected'",
                                             timeout=15_000)
        await map_drawn(wall)
        await map_drawn(summary)
        alerts = city_alerts(200)
        sent = 0
        for count in (0, 3, 200):
            polls = int(await wall.page.get_attribute("#map", "data-updates") or 0)
            await producer.alerts(alerts[sent:count])
            sent = count
            await wall.page.wait_for_function(
                f"() => document.getElementById('board-count').textContent === '{count}'",
                timeout=15_000)
            await summary.page.wait_for_function(
                f"() => document.getElementById('open-total').textContent.trim() === '{count}'",
                timeout=20_000)
            await wall.page.wait_for_function(  # the map has polled since: it shows them too
                f"() => Number(document.getElementById('map').dataset.updates) > {polls}",
                timeout=10_000)
            await wall.page.wait_for_timeout(300)  # one render frame and a fit.js recount
            assert_fits(await measure(wall, WALL_TILES), f"wall {label}, {count} alerts")
            assert_fits(await measure(summary, SUMMARY_TILES), f"summary {label}, {count} alerts")
            lines = await wall.page.evaluate(LINES, "#board .a-title")
            assert all(n <= 2 for n in lines), f"titles over two lines: {lines[:10]}"
            for tab in (wall, summary):  # a video wall's top bar is one line
                centres = await tab.page.evaluate(TOPBAR_CENTRES)
                assert max(centres) - min(centres) <= 12, f"top bar on two lines: {centres}"
            await wall.shot(f"fit-wall-{label}-{count}.png")
            await summary.shot(f"fit-summary-{label}-{count}.png")

        # 200 alerts: the board is paged inside its panel, and kiosk mode turns the pages
        await wall.page.wait_for_function(
            "() => Number(document.getElementById('board').dataset.pageCount || 0) > 1",
            timeout=5_000)
        before, after, pages, at_top, mark = await wall.page.evaluate(TURN)
        assert after == before % pages + 1
        assert at_top
        # the mark in the reader's language (no language chosen: the city's, Vietnamese)
        assert mark == i18n.t("vi", "fit.page", page=str(after), count=str(pages))
        assert mark == f"trang {after}/{pages}"
        assert wall.errors == [] and summary.errors == []


async def test_the_wall_fits_without_kiosk_mode_too(producer: Producer,
                                                    start_dashboard: Any) -> None:
    """An operator's desk (1920x1080, filters and buttons shown): 200 alerts scroll inside
    the board, not the page."""
    await producer.alerts(city_alerts(200))
    d = await start_dashboard()
    async with chromium() as browser:
        wall = await open_page(browser, d.wall_url, SIZES[0])
        await wall.live()
        await wall.page.wait_for_function(
            "() => document.getElementById('board-count').textContent === '200'", timeout=15_000)
        await map_drawn(wall)
        assert_fits(await measure(wall, WALL_TILES), "wall 1920x1080 at a desk")
        board = wall.page.locator("#board")
        assert await board.evaluate("e => e.scrollHeight > e.clientHeight")
        # the top bar's right end: the sign-out button whole, a cut name whole in its tooltip
        await wall.page.wait_for_function(
            "() => !document.getElementById('account').hidden", timeout=15_000)
        bar = await wall.page.evaluate("""() => {
            const b = document.getElementById('btn-signout').getBoundingClientRect();
            const n = document.getElementById('account-name');
            return {right: b.right, vw: document.documentElement.clientWidth,
                    name: n.textContent, title: n.title};
        }""")
        assert bar["name"] and bar["title"] == bar["name"], bar
        assert bar["right"] <= bar["vw"], bar
        await wall.shot("fit-wall-desk-1920x1080-200.png")
        assert wall.errors == []
