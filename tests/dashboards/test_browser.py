"""The wall and the summary in headless Chromium against the real dashboard server
(``dashboards.server.Dashboard``, in-process, on a free port) and a real Kafka broker.

Records are produced on the test's own alerts/indicators/commands topics exactly as the
workers write them; the full flow with a real ``ioc worker`` subprocess is
``test_browser_worker.py``. Screenshots go to ``test-artifacts/`` (gitignored).

Latency budget: a record produced on the alerts topic must be on the wall within
``WALL_SECONDS`` (5 s; measured figures are printed with ``-s``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from dashkit import LEADERSHIP, OPERATOR, PASSWORD, SETTINGS, Producer, open_client

from dashboards.feed import Topics
from dashboards.server import Dashboard
from ioc import catalog
from ioc.events import Alert, Evidence, GroupIndicator, Incident, decode_command

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WALL_SECONDS = 5.0
VIEWPORT = {"width": 1920, "height": 1080}
NOW = time.time()


# --- records --------------------------------------------------------------------------------

def alert(source: str, *, group: str = "flooding", metric: str = "flood_depth",
          severity: str = "critical", status: str = "firing", version: int = 1,
          district: str = "Hai Chau", category: str = "city", detector: str = "threshold",
          change: str = "opened", first_seen: float = NOW - 300, updated_at: float | None = None,
          incident_id: str | None = None, title: str | None = None,
          user: str | None = None) -> Alert:
    """An alert as a worker writes it, with evidence: 24 normal values then a jump."""
    spec = catalog.group(group).metric(metric)
    recent = [round(spec.base * (1 + 0.05 * ((i * 7) % 5 - 2)), 3) for i in range(24)]
    recent += [spec.base * 12, spec.base * 15]
    # as the detectors explain themselves: `threshold` is the raw statistic's threshold (a
    # z-score for robust_z, 0 excess for the static threshold whose baseline is the limit)
    limit = spec.breach_above if spec.breach_above is not None else spec.breach_below
    static = detector == "threshold" and limit is not None
    ev = Evidence(window_start=first_seen - 60, window_end=first_seen, value=recent[-1],
                  baseline=limit if static and limit is not None else spec.base,
                  threshold=0.0 if static else 4.0,
                  score=0.97, raw=8.2, detector=detector, detector_version="1",
                  params={} if static else {"threshold": 4.0}, recent=recent)
    return Alert(alert_id=f"{detector}:{group}:{source}:{metric}", version=version,
                 status=status, severity=severity, category=category,  # type: ignore[arg-type]
                 group=group, district=district, source=source, metric=metric,
                 detector=detector, title=title or f"{metric} at {source}",
                 first_seen=first_seen, last_seen=updated_at or first_seen, count=version,
                 updated_at=updated_at or first_seen, change=change, evidence=ev,
                 incident_id=incident_id, user=user)


def next_version(a: Alert, **changes: Any) -> Alert:
    fields = {f: getattr(a, f) for f in a.__struct_fields__}
    fields.update(version=a.version + 1, **changes)
    return Alert(**fields)


def indicators(group: str, district: str, *, points: int = 1, end: float = NOW,
               breach: int = 0, reporting: int | None = None) -> list[GroupIndicator]:
    """``points`` indicators 5 minutes apart ending at ``end``, KPIs following a wave."""
    g = catalog.group(group)
    expected = sum(1 for s in g.sources() if s.district == district) or 1
    out = []
    for i in range(points):
        t = end - (points - 1 - i) * 300
        kpis = {k.name: round(10 + 4 * math.sin((i + 3 * n) / 9), 2) for n, k in enumerate(g.kpis)}
        out.append(GroupIndicator(group=group, district=district, start=t - g.window_s, end=t,
                                  sources_reporting=expected if reporting is None else reporting,
                                  sources_expected=expected, sources_in_breach=breach,
                                  open_alerts={}, kpis=kpis))
    return out


# --- browser --------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package `chromium`)")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


class Tab:
    """A page plus the JavaScript errors it raised (a test fails on any) and the URLs it
    requested."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", lambda request: self.requests.append(request.url))

    async def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        await self.page.screenshot(path=str(path))
        return path

    async def data(self, key: str) -> str | None:
        value: str | None = await self.page.evaluate(f"document.body.dataset.{key} || null")
        return value

    async def live(self, snapshots: int = 1, timeout: float = 15.0) -> None:
        """Connected, at least ``snapshots`` snapshots applied, the last one of a server whose
        state had loaded (a wall that connects while the server still reads Kafka gets an
        empty snapshot marked not ready, then the full one)."""
        await self.page.wait_for_function(
            "n => document.body.dataset.conn === 'connected' && "
            "document.body.dataset.ready === 'true' && "
            "Number(document.body.dataset.snapshots || 0) >= n", arg=snapshots,
            timeout=timeout * 1000)

    def row(self, alert_id: str, where: str = "") -> Any:
        return self.page.locator(f'{where} li.alert[data-alert-id="{alert_id}"]'.strip())


async def open_tab(browser: Any, url: str, lang: str = "en",
                   size: tuple[int, int] | None = None) -> Tab:
    """A tab on ``url`` reading the pages in ``lang`` (English unless asked: the tests read
    the English words; the city's default, Vietnamese, has tests of its own), in a window of
    ``size`` (width, height; :data:`VIEWPORT` by default)."""
    viewport = {"width": size[0], "height": size[1]} if size else VIEWPORT
    context = await browser.new_context(viewport=viewport)
    if url.startswith("http"):
        await context.add_cookies([{"name": "ioc_lang", "value": lang, "url": url}])
    else:  # a blank page has no site for a cookie: each page the tab opens sets the language
        await context.add_init_script(  # (about:blank itself refuses cookies)
            f"try {{ document.cookie = 'ioc_lang={lang}; path=/'; "
            f"localStorage.setItem('ioc.lang', '{lang}'); }} catch (e) {{}}")
    page = await context.new_page()
    tab = Tab(page)
    await page.goto(url)
    return tab


async def sign_in(tab: Tab, url: str, login: str) -> None:
    """Open the wall without a session, sign in on the login page as ``login`` (with
    :data:`dashkit.PASSWORD`) and wait until the wall is live and knows who it is."""
    await tab.page.goto(f"{url}/")
    await tab.page.wait_for_url(f"{url}/login?next=/")
    await tab.page.fill("#login-name", login)
    await tab.page.fill("#login-password", PASSWORD)
    await tab.page.click("#login-submit")
    await tab.page.wait_for_url(f"{url}/")
    await tab.live()
    await tab.page.wait_for_function(f"() => document.body.dataset.user === '{login}'",
                                     timeout=10000)


async def board(page: Any, count: int) -> list[str]:
    """The board's alert ids once it shows ``count`` rows (renders are batched per frame)."""
    await playwright_api.expect(page.locator("#board li.alert")).to_have_count(count,
                                                                          timeout=5000)
    ids: list[str] = await page.eval_on_selector_all(
        "#board li.alert", "els => els.map(e => e.dataset.alertId)")
    return ids


async def commands_on(topic: str, bootstrap: str, want: int, timeout: float = 15.0
                      ) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            found += [decode_command(m.value or b"") for ms in batch.values() for m in ms]
    finally:
        await consumer.stop()
    return found


# --- the wall -------------------------------------------------------------------------------

async def test_injected_alert_appears_on_the_wall_within_seconds(
        browser: Any, producer: Producer, start_dashboard: Any) -> None:
    """A critical alert produced on the alerts topic is on the board within WALL_SECONDS,
    above the lower severities, with its tile turned critical, the audible cue triggered and
    the banner shown; a sensor-health alert goes to its own panel, not the board."""
    await producer.indicators(indicators("flooding", "Hai Chau")
                              + indicators("traffic", "Hai Chau"))
    warning = alert("trf-HC-01", group="traffic", metric="speed", severity="warning",
                    detector="robust_z")
    stuck = alert("flood-HC-02", severity="warning", category="sensor_health",
                  detector="stuck", title="flood-HC-02 stuck at 2.0 cm")
    await producer.alerts([warning, stuck])
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    await tab.row(warning.alert_id, "#board").wait_for(timeout=5000)
    assert await tab.row(stuck.alert_id, "#health").count() == 1
    assert await tab.row(stuck.alert_id, "#board").count() == 0
    assert await tab.data("beeps") is None  # nothing critical yet

    crit = alert("flood-HC-01", title="Flood depth 30 cm at flood-HC-01")
    started = time.monotonic()
    await producer.alerts([crit])
    await tab.row(crit.alert_id, "#board").wait_for(timeout=WALL_SECONDS * 1000)
    elapsed = time.monotonic() - started
    print(f"\nalert record -> on the wall: {elapsed:.2f} s (budget {WALL_SECONDS} s)")
    assert elapsed < WALL_SECONDS

    ids = await tab.page.eval_on_selector_all(
        "#board li.alert", "els => els.map(e => e.dataset.alertId)")
    assert ids == [crit.alert_id, warning.alert_id], "sorted by severity"
    # the tiles show the server's status (dashboards.status), asked for again on the change
    await tab.page.wait_for_function(
        """() => document.querySelector('.tile[data-group="flooding"]').dataset.state
                 === 'critical'""", timeout=5000)
    assert await tab.page.get_attribute('.tile[data-group="traffic"]', "data-state") == \
        "warning"
    assert await tab.page.locator(".tile").count() == 15
    assert await tab.data("beeps") == "1"
    assert "NEW CRITICAL" in (await tab.page.inner_text("#banner"))
    assert (await tab.page.inner_text('#sev-counts [data-severity="critical"]')).startswith("1")
    print("screenshot:", await tab.shot("wall.png"))
    assert tab.errors == []


async def test_ack_from_the_page_reaches_commands_and_shows_everywhere(
        browser: Any, producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    """Clicking Ack sends a Command to the commands topic (operator user, the alert's id);
    when the acknowledged record arrives (written here as the worker would), the page shows
    the alert acknowledged and a second websocket client sees the same."""
    a = alert("flood-HC-07", severity="major")
    await producer.alerts([a])
    d = await start_dashboard()
    other = await open_client(d, LEADERSHIP)
    await other.until("snapshot")
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    row = tab.row(a.alert_id, "#board")
    await row.wait_for(timeout=5000)
    assert await row.get_attribute("data-status") == "firing"

    await row.locator('[data-action="ack"]').click()
    await tab.page.wait_for_function("() => document.body.dataset.lastCommand", timeout=15000)
    command_id = await tab.data("lastCommand")
    (cmd,) = [c for c in await commands_on(topic_names.commands, kafka_bootstrap, 1)
              if c.command_id == command_id]
    assert cmd.action == "ack" and cmd.alert_id == a.alert_id
    assert cmd.user.startswith("operator")
    assert await row.get_attribute("data-status") == "firing"  # not before a worker says so

    acked = next_version(a, status="acknowledged", change="acknowledged", user=cmd.user,
                         updated_at=a.first_seen + 120)
    started = time.monotonic()
    await producer.alerts([acked])
    await tab.page.wait_for_selector(
        f'#board li.alert[data-alert-id="{a.alert_id}"][data-status="acknowledged"]',
        timeout=WALL_SECONDS * 1000)
    print(f"\nacknowledged record -> on the wall: {time.monotonic() - started:.2f} s")
    delta = await other.until("delta", where=lambda f: f["data"].get("alert_id") == a.alert_id)
    assert delta["data"]["status"] == "acknowledged" and delta["data"]["version"] == 2
    assert "Acknowledged by operator" in await row.inner_text()
    assert await row.locator('[data-action="ack"]').count() == 0
    assert await row.locator('[data-action="resolve"]').count() == 1
    print("screenshot:", await tab.shot("wall-acknowledged.png"))

    # resolve: the alert leaves the board
    await row.locator('[data-action="resolve"]').click()
    await tab.page.wait_for_function(f"() => document.body.dataset.lastCommand !== '{command_id}'",
                                     timeout=15000)
    cmds = await commands_on(topic_names.commands, kafka_bootstrap, 2)
    assert [c.action for c in cmds] == ["ack", "resolve"]
    await producer.alerts([next_version(acked, status="resolved", change="resolved",
                                        updated_at=a.first_seen + 600)])
    await row.wait_for(state="detached", timeout=WALL_SECONDS * 1000)
    await other.close()
    assert tab.errors == []


async def test_detail_filters_and_incidents(
        browser: Any, producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    """The detail shows the evidence sparkline with baseline and threshold lines and sends a
    note; filters narrow the board; an incident lists its groups and focuses its alerts, and
    its member alerts show it (by membership, as workers publish them, or by incident_id)."""
    flood = alert("flood-HC-03", detector="robust_z")  # a member only by the incident's list
    jam = alert("trf-HC-03", group="traffic", metric="speed", severity="major",
                detector="robust_z", incident_id="inc:Hai Chau:t1")
    air = alert("air-ST-01", group="environment", metric="pm25", severity="warning",
                district="Son Tra", detector="robust_z")
    inc = Incident(incident_id="inc:Hai Chau:t1", version=1, status="open",
                   district="Hai Chau", groups=["flooding", "traffic"],
                   alert_ids=[flood.alert_id, jam.alert_id], severity="critical",
                   title="Flooding and traffic in Hai Chau", first_seen=NOW - 300,
                   last_seen=NOW - 60, updated_at=NOW - 60)
    await producer.alerts([flood, jam, air, inc])
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    page = tab.page
    await tab.row(air.alert_id).wait_for(timeout=5000)
    await board(page, 3)
    for member in (flood, jam):
        assert await tab.row(member.alert_id).locator(".chip-incident").count() == 1
    assert await tab.row(air.alert_id).locator(".chip-incident").count() == 0

    # detail with evidence
    await tab.row(flood.alert_id).click()
    detail = page.locator("#detail")
    await detail.wait_for(state="visible", timeout=5000)
    spark = detail.locator("svg.spark-big")
    assert await spark.locator(".spark-baseline").count() == 1
    assert await spark.locator(".spark-threshold").count() == 1
    points = (await spark.locator("polyline.spark-line").get_attribute("points") or "").split()
    assert len(points) == len(flood.evidence.recent)
    legend = await detail.locator(".legend").inner_text()
    assert "baseline 2" in legend and "limit 20" in legend  # the catalog's breach limit
    await detail.locator("details.engineers summary").click()  # the detector: for engineers
    assert "fires at 4" in await detail.inner_text()       # the detector's own threshold
    # the incident named by its district and groups, in the reader's language
    assert "Incident: Hai Chau: Rainfall & urban flooding + Traffic operations" in \
        await detail.inner_text()
    await page.fill("#cmd-note", "pump truck on site")
    await detail.locator('[data-action="note"]').click()
    await page.wait_for_function("() => document.body.dataset.lastCommand", timeout=15000)
    (cmd,) = await commands_on(topic_names.commands, kafka_bootstrap, 1)
    assert (cmd.action, cmd.alert_id, cmd.text) == ("note", flood.alert_id, "pump truck on site")
    print("screenshot:", await tab.shot("wall-detail.png"))
    await page.keyboard.press("Escape")
    await detail.wait_for(state="hidden", timeout=5000)

    # filters
    await page.select_option("#f-group", "traffic")
    assert await board(page, 1) == [jam.alert_id]
    await page.select_option("#f-group", "")
    await page.select_option("#f-district", "Son Tra")
    assert await board(page, 1) == [air.alert_id]
    await page.select_option("#f-severity", "major")
    await board(page, 0)
    await page.click("#f-clear")
    await board(page, 3)
    await page.select_option("#f-category", "sensor_health")
    await board(page, 0)
    await page.click("#f-clear")
    await board(page, 3)
    await page.click('.tile[data-group="environment"]')
    assert await board(page, 1) == [air.alert_id]
    assert "group=environment" in page.url
    await page.click("#f-clear")
    await board(page, 3)

    # the incident links the two groups' alerts
    item = page.locator('li.incident[data-incident-id="inc:Hai Chau:t1"]')
    text = await item.inner_text()
    assert "Rainfall & urban flooding" in text and "Traffic operations" in text
    await item.click()
    assert set(await board(page, 2)) == {flood.alert_id, jam.alert_id}
    assert tab.errors == []


async def test_leadership_sees_no_buttons_and_no_sensor_health(
        browser: Any, producer: Producer, start_dashboard: Any) -> None:
    city = alert("flood-HC-04", severity="major")
    health = alert("flood-HC-05", severity="warning", category="sensor_health",
                   detector="stuck")
    await producer.alerts([city, health])
    d = await start_dashboard()
    tab = await open_tab(browser, f"{d.url}/#token={LEADERSHIP}")
    await tab.live()
    await tab.row(city.alert_id).wait_for(timeout=5000)
    assert await tab.data("role") == "leadership"
    assert await tab.page.locator("[data-action]").count() == 0
    assert await tab.page.locator("#health li").count() == 0
    await tab.row(city.alert_id).click()
    await tab.page.locator("#detail").wait_for(state="visible", timeout=5000)
    assert await tab.page.locator("#detail .commands").count() == 0
    assert await tab.page.locator("#detail [data-action]").count() == 0
    assert tab.errors == []


async def test_token_from_the_fragment_is_kept_out_of_the_address_bar(
        browser: Any, start_dashboard: Any) -> None:
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    assert "token" not in tab.page.url
    stored = await tab.page.evaluate("sessionStorage.getItem('ioc.token')")
    assert stored == OPERATOR
    await tab.page.reload()  # the same tab keeps its token
    await tab.live()

    # a link with a wrong token ends on the login page, saying so (issue 12: the wall without
    # a session is the login page)
    bad = await open_tab(browser, f"{d.url}/#token=not-the-token")
    await bad.page.wait_for_selector("#login-message:not([hidden])", timeout=10000)
    assert "refused" in await bad.page.inner_text("#login-message")
    assert await bad.page.evaluate("sessionStorage.getItem('ioc.token')") is None
    assert tab.errors == [] and bad.errors == []


async def test_reconnects_and_resumes_from_the_last_sequence(
        browser: Any, producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    """A dropped socket reconnects by itself and resumes (no new snapshot) with what was
    missed; Resync asks for a fresh snapshot; a restarted server (new epoch) is followed by a
    snapshot, and the status pill says what is happening meanwhile."""
    first = alert("flood-HC-08", severity="major")
    await producer.alerts([first])
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    await tab.row(first.alert_id).wait_for(timeout=5000)

    await tab.page.evaluate("window.IOC_WALL.conn.ws.close()")
    missed = alert("flood-HC-09", severity="warning")
    await producer.alerts([missed])
    await tab.row(missed.alert_id).wait_for(timeout=15000)
    await tab.page.wait_for_function("() => document.body.dataset.welcomes === '2'", timeout=15000)
    assert await tab.data("resumed") == "true"
    assert await tab.data("snapshots") == "1"

    await tab.page.click("#btn-resync")
    await tab.live(snapshots=2)
    assert await tab.row(first.alert_id).count() == 1

    port = d.port
    await d.stop()
    await tab.page.wait_for_function("() => document.body.dataset.conn === 'reconnecting'",
                                     timeout=15000)
    assert "Reconnecting" in await tab.page.inner_text("#conn")
    print("screenshot:", await tab.shot("wall-reconnecting.png"))
    again = Dashboard(SETTINGS, kafka_bootstrap, host="127.0.0.1", port=port,
                      topic_names=topic_names)
    await again.start()
    try:
        # the wall may reconnect before the new server has read the topics: that first
        # snapshot is empty and not ready, the full one follows (it once read 0 rows here)
        await tab.live(snapshots=3, timeout=30)
        assert await tab.data("resumed") == "false"
        assert await tab.row(first.alert_id).count() == 1
        assert await tab.row(missed.alert_id).count() == 1
    finally:
        await again.stop()
    assert tab.errors == []


async def test_kiosk_mode(browser: Any, producer: Producer, start_dashboard: Any) -> None:
    """?kiosk=1 hides the controls and enlarges the type; the Kiosk button does the same and
    asks for full screen."""
    a = alert("flood-HC-06")
    await producer.indicators(indicators("flooding", "Hai Chau"))
    await producer.alerts([a])
    d = await start_dashboard()
    tab = await open_tab(browser, f"{d.url}/?kiosk=1#token={OPERATOR}")
    await tab.live()
    await tab.row(a.alert_id).wait_for(timeout=5000)
    page = tab.page
    assert await page.evaluate("document.body.classList.contains('kiosk')")
    assert await page.locator("#filters").is_hidden()
    assert await page.locator("#btn-kiosk").is_hidden()
    assert await page.locator('[data-action="ack"]').first.is_hidden()
    size = await page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert float(size.removesuffix("px")) > 19  # larger than at a desk, scaled to the width
    print("screenshot:", await tab.shot("wall-kiosk.png"))

    normal = await open_tab(browser, d.wall_url)
    await normal.live()
    assert await normal.page.evaluate(
        "getComputedStyle(document.documentElement).fontSize") == "19px"
    await normal.page.click("#btn-kiosk")
    assert await normal.page.evaluate("document.body.classList.contains('kiosk')")
    with contextlib.suppress(Exception):  # full screen may be refused headless
        await normal.page.wait_for_function("() => document.fullscreenElement !== null",
                                            timeout=2000)
    await normal.page.keyboard.press("k")
    assert not await normal.page.evaluate("document.body.classList.contains('kiosk')")
    assert tab.errors == [] and normal.errors == []


# --- the summary ----------------------------------------------------------------------------

async def test_summary_renders_all_15_groups(
        browser: Any, producer: Producer, start_dashboard: Any) -> None:
    """Every group has a card with a red/amber/green status, its KPIs, a 24-hour trend and
    its own MTTA/MTTR; every district a row and a trend from the summary frame's `districts`
    (no `/api/history` request); MTTA/MTTR, alerts by severity and the noisiest detectors
    show."""
    records: list[GroupIndicator] = []
    for g in catalog.CATALOG:
        for district in sorted({s.district for s in g.sources()}):
            breach = 1 if (g.slug, district) == ("environment", "Son Tra") else 0
            records += indicators(g.slug, district, points=96, breach=breach)
    await producer.indicators(records)
    flood = alert("flood-HC-10", severity="critical")
    slow = alert("trf-HC-10", group="traffic", metric="speed", severity="warning",
                 detector="robust_z", first_seen=NOW - 900)
    slow_ack = next_version(slow, status="acknowledged", change="acknowledged",
                            updated_at=NOW - 600, user="operator:Lan")
    gone = alert("hos-HC-10", group="healthcare", metric="bed_occupancy", severity="major",
                 detector="threshold", first_seen=NOW - 3000)
    gone_fixed = next_version(gone, status="resolved", change="resolved", updated_at=NOW - 1200)
    await producer.alerts([flood, slow, slow_ack, gone, gone_fixed])
    d = await start_dashboard()
    tab = await open_tab(browser, d.summary_url)
    page = tab.page
    await page.wait_for_function(
        "() => document.querySelectorAll('.gcard').length === 15 && "
        "Number(document.body.dataset.summaries || 0) >= 1", timeout=15000)
    slugs = await page.eval_on_selector_all(".gcard", "els => els.map(e => e.dataset.group)")
    assert slugs == [g.slug for g in catalog.CATALOG]
    rag = dict(zip(slugs, await page.eval_on_selector_all(
        ".gcard", "els => els.map(e => e.dataset.rag)"), strict=True))
    assert rag["flooding"] == "red"          # a critical alert
    assert rag["traffic"] == "amber"         # a warning (acknowledged, still open)
    assert rag["environment"] == "amber"     # a source in breach
    assert rag["healthcare"] == "green"      # its alert was resolved
    assert set(rag.values()) <= {"red", "amber", "green"}
    for slug in slugs:  # every card has its 24-hour trend drawn
        card = page.locator(f'.gcard[data-group="{slug}"]')
        assert await card.locator("svg .spark-line").count() == 1, slug
    flood_card = await page.locator('.gcard[data-group="flooding"]').inner_text()
    assert "Flooded points" in flood_card and "Max flood depth" in flood_card

    # per-group MTTA/MTTR on the cards: traffic acknowledged after 5 min, healthcare resolved
    # after 30 min, flooding neither (no line)
    traffic_times = await page.inner_text('.gcard[data-group="traffic"] .g-times')
    assert "MTTA 5 min" in traffic_times and "MTTR –" in traffic_times
    assert "MTTR 30 min" in await page.inner_text('.gcard[data-group="healthcare"] .g-times')
    assert await page.locator('.gcard[data-group="flooding"] .g-times').count() == 0

    # the district rows and their trends come from the summary frame's `districts`
    assert await page.locator("#districts tr").count() == len(catalog.DISTRICTS)
    assert await page.locator('#districts tr[data-from="summary"]').count() == \
        len(catalog.DISTRICTS)
    hai_chau = '#districts tr[data-district="Hai Chau"]'
    assert await page.get_attribute(hai_chau, "data-rag") == "red"
    assert await page.inner_text(f"{hai_chau} td:nth-child(2)") == "2"    # flood + traffic
    son_tra = '#districts tr[data-district="Son Tra"]'
    assert await page.inner_text(f"{son_tra} td:nth-child(3)") == "1"     # environment breach
    assert await page.get_attribute(son_tra, "data-rag") == "amber"
    await page.wait_for_function(
        "() => document.querySelectorAll('#districts svg .spark-line').length >= 7", timeout=20000)
    trend_points = await page.evaluate(
        "window.IOC_SUMMARY.state.summary.districts"
        ".find(d => d.district === 'Hai Chau').trend.length")
    # one point per 5-minute bucket holding an indicator of any group in the district
    assert trend_points == len({int(r.start // 300) for r in records
                                if r.district == "Hai Chau"})

    assert await page.inner_text("#mtta") == "5 min"
    assert await page.inner_text("#mttr") == "30 min"
    assert await page.inner_text("#open-total") == "2"
    assert (await page.inner_text('#open-sev [data-severity="critical"]')).startswith("1")
    assert await page.inner_text("#opened-24h") == "3"
    noisy = await page.inner_text("#noisy")
    assert "threshold" in noisy and "robust_z" in noisy
    print("screenshot:", await tab.shot("summary.png"))

    # live: a new critical alert in traffic turns its card red without a reload
    await producer.alerts([alert("trf-HC-11", group="traffic", metric="speed",
                                 detector="threshold")])
    await page.wait_for_selector('.gcard[data-group="traffic"][data-rag="red"]', timeout=15000)
    await page.wait_for_function(
        f"() => document.querySelector('{hai_chau} td:nth-child(2)').textContent === '3'",
        timeout=15000)
    assert tab.errors == []
    assert any("/api/summary" in url for url in tab.requests)
    assert [url for url in tab.requests if "/api/history" in url] == []


async def test_summary_with_no_data_still_shows_every_group(
        browser: Any, start_dashboard: Any) -> None:
    d = await start_dashboard()
    tab = await open_tab(browser, d.summary_url)
    await tab.page.wait_for_function("() => document.querySelectorAll('.gcard').length === 15",
                                     timeout=15000)
    names = await tab.page.eval_on_selector_all(".g-name", "els => els.map(e => e.title)")
    assert names == [g.name for g in catalog.CATALOG]
    assert await tab.page.inner_text("#open-total") == "0"
    assert tab.errors == []
