"""The wall and the summary in headless Chromium: one status per group and district (the
server's rule, dashboards.status) on both pages, Vietnamese by default with English
switchable and remembered, and no native prompt anywhere, at 1920x1080 and 3840x2160.
Screenshots go to ``test-artifacts/``, one per page and size."""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import OPERATOR, Producer
from test_browser import ARTIFACTS, NOW, Tab, alert, browser, indicators, open_tab

from ioc import catalog
from ioc.events import Alert
from streams.titles import title_for, title_parts

pytest.importorskip("playwright.async_api")
pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]
__all__ = ["browser"]  # the fixture, imported for the tests below

SIZES = [(1920, 1080), (3840, 2160)]  # a wall's screens, as in test_browser_fit
sized = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")

# group, district -> what its cell should be judged (the rule's cases)
EXPECTED_GROUPS = {"flooding": "critical", "traffic": "warning", "environment": "warning",
                   "camera_analytics": "major", "wastewater": "starting", "public_transport": "ok"}
EXPECTED_DISTRICTS = {"Hai Chau": "critical", "Son Tra": "warning", "Thanh Khe": "major",
                      "Lien Chieu": "starting", "Cam Le": "ok"}


def titled(a: Alert) -> Alert:
    """``a`` with the title and title parts a worker gives it."""
    assert a.evidence is not None
    kw: dict[str, Any] = {"group": a.group, "district": a.district, "source": a.source,
                          "metric": a.metric, "ev": a.evidence}
    fields = {f: getattr(a, f) for f in a.__struct_fields__}
    fields.update(title=title_for(**kw), title_parts=title_parts(**kw))
    return Alert(**fields)


async def seed(producer: Producer) -> Alert:
    """Records covering every case of the rule; returns the critical flooding alert."""
    crit = titled(alert("flood-HC-01", severity="critical", detector="robust_z"))
    warn = titled(alert("trf-HC-01", group="traffic", metric="speed", severity="warning",
                        detector="robust_z"))
    await producer.indicators(
        indicators("flooding", "Hai Chau", points=24)
        + indicators("traffic", "Hai Chau", points=24)
        + indicators("environment", "Son Tra", points=24, breach=1)
        + indicators("camera_analytics", "Thanh Khe", points=24, reporting=0)
        + indicators("wastewater", "Lien Chieu", points=1, reporting=0)
        + indicators("public_transport", "Cam Le", points=24))
    await producer.alerts([crit, warn])
    return crit


# The colour each page gives a status: the wall's tile border, the summary's card band.
TILE_COLOURS = """() => Object.fromEntries(['ok', 'starting', 'no_data'].map((s) => {
  const e = document.querySelector(`.tile[data-state="${s}"]`);
  return [s, e ? getComputedStyle(e).borderLeftColor : null];
}))"""
CARD_COLOURS = """() => Object.fromEntries(['ok', 'starting', 'no_data'].map((s) => {
  const e = document.querySelector(`.gcard[data-status="${s}"] .g-band`);
  return [s, e ? getComputedStyle(e).backgroundColor : null];
}))"""
# The map's districts as drawn (status, fill) and the statuses /api/map ships; and what the
# map draws for a district the server ships no status for (one with a critical alert).
DISTRICT_FILLS = """async () => {
  const live = await IOC.fetchJSON('/api/map', IOC.token(false));
  const drawn = {};
  document.querySelectorAll('#map path.district').forEach((p) => {
    drawn[p.dataset.district] = [p.dataset.status, getComputedStyle(p).fill];
  });
  const unshipped = IOCMap.districtStatus('Hai Chau',
    {districts: {}, alerts: {'flood-HC-01': {severity: 'critical', open: 1}}});
  return {shipped: live.districts || {}, drawn, unshipped};
}"""


async def statuses(tab: Tab, selector: str, key: str) -> dict[str, str]:
    got: dict[str, str] = await tab.page.eval_on_selector_all(
        selector, f"els => Object.fromEntries(els.map(e => [e.dataset.{key}, e.dataset.status "
                  "|| e.dataset.state]))")
    return got


@sized
async def test_wall_and_summary_show_the_same_status_for_every_group_and_district(
        size: tuple[int, int], browser: Any, producer: Producer, start_dashboard: Any) -> None:
    await seed(producer)
    d = await start_dashboard()
    label = f"{size[0]}x{size[1]}"
    wall = await open_tab(browser, d.wall_url, size=size)
    summary = await open_tab(browser, d.summary_url, size=size)
    await wall.live()
    # both pages settle on the server's verdicts (the wall's map polls every few seconds)
    for tab, ready in (
            (wall, "document.querySelectorAll('.tile[data-state=\"critical\"]').length === 1 && "
                   "document.querySelectorAll('#map path.district[data-status=\"starting\"]')"
                   ".length === 1"),
            (summary, "document.querySelectorAll('.gcard[data-status=\"critical\"]').length === 1 "
                      "&& document.querySelectorAll('#districts tr[data-from=\"summary\"]')"
                      ".length === 8")):
        await tab.page.wait_for_function(f"() => {ready}", timeout=20000)
    wall_groups = await statuses(wall, ".tile", "group")
    summary_groups = await statuses(summary, ".gcard", "group")
    assert set(wall_groups) == {g.slug for g in catalog.CATALOG}
    assert wall_groups == summary_groups
    for slug, status in EXPECTED_GROUPS.items():
        assert wall_groups[slug] == status, slug
    wall_districts = await statuses(wall, "#map path.district", "district")
    summary_districts = await statuses(summary, "#districts tr", "district")
    assert set(summary_districts) == {x.name for x in catalog.DISTRICTS}
    assert wall_districts == summary_districts
    for name, status in EXPECTED_DISTRICTS.items():
        assert summary_districts[name] == status, name
    # one colour per status on both pages: no data grey, starting its own, neither ok's green
    tiles = await wall.page.evaluate(TILE_COLOURS)
    cards = await summary.page.evaluate(CARD_COLOURS)
    assert None not in tiles.values(), tiles
    assert len(set(tiles.values())) == 3, f"statuses share a colour on the wall: {tiles}"
    assert tiles == cards, f"the wall's colours {tiles} are not the summary's {cards}"
    assert tiles["no_data"] == "rgb(142, 153, 168)"  # --grey
    # the map's districts: the statuses the server ships (none shipped: no data), one fill
    # per status, each status its own fill
    fills = await wall.page.evaluate(DISTRICT_FILLS)
    assert fills["unshipped"] == "no_data"
    drawn = fills["drawn"]
    assert {name: st for name, (st, _) in drawn.items()} == {
        name: fills["shipped"].get(name, "no_data") for name in drawn}
    by_status: dict[str, set[str]] = {}
    for st, fill in drawn.values():
        by_status.setdefault(st, set()).add(fill)
    assert set(by_status) >= {"critical", "major", "warning", "starting", "ok", "no_data"}
    assert all(len(f) == 1 for f in by_status.values()), by_status
    assert len({f for (f,) in by_status.values()}) == len(by_status), by_status
    # the summary says why, in words
    why = await summary.page.get_attribute('.gcard[data-group="camera_analytics"]', "title")
    assert why == "only 0 of 3 sources reporting" or (why or "").startswith("only 0 of ")
    ARTIFACTS.mkdir(exist_ok=True)
    await wall.shot(f"wall-statuses-{label}.png")
    await summary.shot(f"summary-statuses-{label}.png")
    assert wall.errors == [] and summary.errors == []


@sized
async def test_vietnamese_by_default_english_switchable_and_remembered_no_prompt(
        size: tuple[int, int], browser: Any, producer: Producer, start_dashboard: Any) -> None:
    crit = await seed(producer)
    d = await start_dashboard()
    label = f"{size[0]}x{size[1]}"
    viewport = {"width": size[0], "height": size[1]}
    context = await browser.new_context(viewport=viewport)  # no language chosen yet
    await context.add_init_script(
        "window.prompt = function () { window.__prompted = true; return null; };")
    page = await context.new_page()
    tab = Tab(page)
    # no session, no token: the login page, in Vietnamese, with a place to paste a token
    await page.goto(f"{d.url}/")
    await page.wait_for_url(f"{d.url}/login?next=/")
    assert await page.get_attribute("html", "lang") == "vi"
    assert await page.text_content("#login-form h2") == "Đăng nhập vào trung tâm điều hành"
    await page.fill("#token-input", OPERATOR)
    await page.click("#token-submit")
    await page.wait_for_url(f"{d.url}/")
    await tab.live()
    await page.wait_for_function("() => document.documentElement.dataset.i18n === 'vi'")
    assert await page.get_attribute("html", "lang") == "vi"
    row = tab.row(crit.alert_id)
    await row.wait_for(timeout=5000)
    title = await row.locator(".a-title").text_content() or ""
    assert title.startswith("Độ sâu ngập") and "Hải Châu" in title, title
    assert "robust_z" not in title and "σ" not in title
    assert "Lượng mưa & ngập úng đô thị" in (await page.text_content("#tiles") or "")
    assert "Hải Châu" in (await page.text_content("#f-district") or "")
    assert await page.text_content("#board-empty") == "Không có cảnh báo đô thị nào đang mở."
    await page.wait_for_function(
        "() => document.querySelector('.tile[data-group=\"flooding\"]').dataset.state "
        "=== 'critical'", timeout=10000)
    assert await page.text_content('.tile[data-group="flooding"] .t-state') == "Nghiêm trọng"
    # who is signed in, in the reader's words: the role and "shared token" too
    await page.locator("#account-name").wait_for(timeout=10000)
    assert await page.text_content("#account-name") == "vận hành viên (mã dùng chung)"
    await tab.shot(f"wall-vi-{label}.png")

    # English, and remembered for the other pages and the login page
    await page.click("#btn-lang")
    await page.wait_for_function("() => document.documentElement.dataset.i18n === 'en'",
                                 timeout=10000)
    await tab.live()
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.evaluate("localStorage.getItem('ioc.lang')") == "en"
    await row.wait_for(timeout=5000)
    title = await row.locator(".a-title").text_content()
    assert title == crit.title and title.startswith("Flood depth"), title
    assert "Rainfall & urban flooding" in (await page.text_content("#tiles") or "")
    await page.locator("#account-name").wait_for(timeout=10000)
    assert await page.text_content("#account-name") == "operator (shared token)"
    await page.goto(f"{d.url}/summary")
    await page.wait_for_function("() => document.querySelectorAll('.gcard').length === 15",
                                 timeout=15000)
    assert await page.get_attribute("html", "lang") == "en"
    assert "Service groups" in (await page.text_content("#groups-title") or "")
    await tab.shot(f"summary-en-{label}.png")
    # the choice is in the cookie the server reads: a signed-out visit gets the login page
    # in English (a new context with this one's language cookie and no session)
    chosen = [c for c in await context.cookies() if c["name"] == "ioc_lang"]
    assert [c["value"] for c in chosen] == ["en"]
    assert await page.evaluate("window.__prompted === undefined")
    assert tab.errors == []
    await context.close()
    later = await browser.new_context(viewport=viewport)
    await later.add_cookies(chosen)
    login = await later.new_page()
    await login.goto(f"{d.url}/login")
    assert await login.get_attribute("html", "lang") == "en"
    assert await login.text_content("#login-form h2") == "Sign in to the operations centre"
    await login.screenshot(path=str(ARTIFACTS / f"login-en-{label}.png"))
    await later.close()


async def test_the_summary_draws_its_trends_over_the_hours_with_data(
        browser: Any, producer: Producer, start_dashboard: Any) -> None:
    """Two hours of data fill the chart (not a thin mark at the right edge of 24 hours), the
    span is written under it, and 'as of' names the newest record."""
    await producer.indicators(indicators("flooding", "Hai Chau", points=24))
    d = await start_dashboard()
    tab = await open_tab(browser, d.summary_url)
    await tab.page.wait_for_function(
        "() => document.querySelector('.gcard[data-group=\"flooding\"] polyline')", timeout=15000)
    points = (await tab.page.get_attribute('.gcard[data-group="flooding"] polyline',
                                           "points") or "").split()
    xs = [float(p.split(",")[0]) for p in points]
    width = float(await tab.page.get_attribute('.gcard[data-group="flooding"] svg.spark',
                                               "width") or 0)
    assert len(xs) >= 20 and xs[0] < 0.1 * width and xs[-1] > 0.85 * width
    axis = await tab.page.text_content('.gcard[data-group="flooding"] .trend-axis') or ""
    assert "h with data" in axis
    as_of = float(await tab.page.get_attribute("#as-of", "data-as-of") or 0)
    assert abs(as_of - NOW) < 5
    assert tab.errors == []


CLIPPED = """() => Array.from(document.querySelectorAll(
    '.g-name, .kpi-label, .g-foot-trend, .g-band .rag-word, .trend-axis span, #districts td, '
    + '.fig-label, .districts th'))
  .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)
  .map(e => e.className + ': ' + e.textContent.trim().slice(0, 40))"""


@pytest.mark.parametrize("lang", ["en", "vi"])
async def test_no_label_of_the_summary_is_cut(browser: Any, producer: Producer,
                                              start_dashboard: Any, lang: str) -> None:
    """Group names, KPI labels, statuses and district rows wrap rather than being cut, in
    either language (the longer Vietnamese names included)."""
    await seed(producer)
    d = await start_dashboard()
    tab = await open_tab(browser, d.summary_url, lang=lang)
    await tab.page.wait_for_function(
        "() => document.querySelectorAll('.gcard[data-status=\"critical\"]').length === 1",
        timeout=15000)
    assert await tab.page.evaluate(CLIPPED) == []
    await tab.shot(f"summary-{lang}-labels.png")
    assert tab.errors == []
