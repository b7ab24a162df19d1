"""The city map on the wall and the summary (issue 13), in headless Chromium against the real
dashboard server and a real Kafka broker, at 1920x1080 and 3840x2160: the 8 districts with
their attribution, the sources at their places coloured by their worst open alert, districts
shaded, moving sources that move live with a track, a vessel that goes silent shown as lost,
and clicks that filter the board and open the detail. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from dashkit import LEADERSHIP, OPERATOR, Producer
from test_browser import Tab, alert, chromium, indicators

from ioc import catalog
from ioc.events import Reading, encode
from ioc.kafka.admin import TopicSpec, ensure_topics
from ioc.tools.simulated_sources import SourceState

pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(240)]

SIZES = [(1920, 1080), (3840, 2160)]
MOVERS = ("vms-ST-01", "vms-ST-02", "bus-HC-01", "ev-LC-01")
SILENT = "vms-ST-02"   # stops reporting half-way
STEP_S = 15.0          # event time between two rounds of reports


def state_of(source_id: str) -> SourceState:
    (src,) = [s for s in catalog.all_sources() if s.id == source_id]
    kind = {k.name: k for k in catalog.group(src.group).source_kinds}[src.kind]
    return SourceState(src, kind, 0, "ioc")


class Movers:
    """Reports the moving sources' positions as the simulator places them, one round per
    call, event time advancing STEP_S each round."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        self.states = {sid: state_of(sid) for sid in MOVERS}
        self.ts = time.time() - 300.0

    async def round(self, skip: str | None = None) -> None:
        self.ts += STEP_S
        for sid, st in self.states.items():
            if sid == skip:
                continue
            lat, lon = st.position(self.ts * 20)   # 20x: a visible move per round
            metric = st.measured[0]
            reading = Reading(group=st.group, source=sid, metric=metric.name, value=5.0,
                              ts=self.ts, district=st.district, lat=lat, lon=lon)
            await self.producer.send(self.topic, encode([reading]), key=sid.encode())
        await self.producer.flush()


async def open_page(browser: Any, url: str, size: tuple[int, int]) -> Tab:
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    tab = Tab(await context.new_page())
    await tab.page.goto(url)
    return tab


async def map_state(tab: Tab, source: str) -> dict[str, Any]:
    """A marker's place on screen, its severity, whether it is lost, its track's points."""
    got: dict[str, Any] = await tab.page.evaluate(
        """(sid) => {
          const g = document.querySelector(`#map g.marker[data-source="${sid}"]`);
          if (!g) return {};
          const box = g.querySelector('.dot').getBBox();
          const track = g.querySelector('polyline.track');
          return {x: box.x, y: box.y, severity: g.dataset.severity, lost: g.dataset.lost,
                  track: track ? track.getAttribute('points').split(' ').length : 0};
        }""", source)
    return got


async def until(tab: Tab, js: str, timeout: float = 15.0) -> None:
    await tab.page.wait_for_function(js, timeout=timeout * 1000)


async def click(tab: Tab, selector: str) -> None:
    """A click on an SVG shape as the page's handlers get it (a point-and-click would land on
    whatever shape is drawn over the centre of the shape's box)."""
    await tab.page.locator(selector).dispatch_event("click")


@pytest.fixture
def position_topic(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> str:
    name = unique_name("positions")
    ensure_topics([TopicSpec(name, 2, 1)], kafka_bootstrap)
    return name


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_map_shows_districts_sources_and_moving_ones_live(
        size: tuple[int, int], producer: Producer, start_dashboard: Any,
        kafka_bootstrap: str, position_topic: str) -> None:
    """Both pages draw the 8 districts (Hoang Sa in the inset) with the attribution, every
    source that stays put, and the moving ones; a critical alert colours its source's marker
    and shades its district; the moving sources move with a track; a vessel that stops
    reporting is shown as lost while the others keep moving."""
    flood = alert("flood-HC-01", severity="critical", title="Flood depth 30 cm at flood-HC-01")
    await producer.indicators(indicators("flooding", "Hai Chau"))
    await producer.alerts([flood])
    movers = Movers(kafka_bootstrap, position_topic)
    await movers.producer.start()
    label = f"{size[0]}x{size[1]}"
    try:
        await movers.round()
        d = await start_dashboard(position_topics=(position_topic,))
        async with chromium() as browser:
            wall = await open_page(browser, f"{d.url}/?kiosk=1#token={OPERATOR}", size)
            await wall.live()
            await until(wall, "() => document.getElementById('map').dataset.districts === '8'"
                              " && document.getElementById('map').dataset.moving === '4'")
            places = sum(1 for s in catalog.all_sources()
                         if s.kind not in ("vehicle", "bus", "vessel"))
            assert await wall.page.locator("#map g.marker:not(.moving)").count() == places
            assert await wall.page.locator(".map-inset path.district").count() == 1
            assert "geoBoundaries" in await wall.page.inner_text("#map .map-attrib")
            assert (await map_state(wall, "flood-HC-01"))["severity"] == "critical"
            await until(wall, "() => document.querySelector("
                              "'#map path[data-district=\"Hai Chau\"]').dataset.status "
                              "=== 'critical'")
            before = await map_state(wall, "vms-ST-01")
            for _ in range(3):
                await movers.round()
            await until(wall, f"() => {{ const g = document.querySelector("
                              f"'#map g.marker[data-source=\"vms-ST-01\"] .dot');"
                              f" const b = g && g.getBBox(); return b && (b.x !== {before['x']}"
                              f" || b.y !== {before['y']}); }}")
            moved = await map_state(wall, "vms-ST-01")
            assert moved["track"] >= 2 and moved["lost"] == "false"
            assert (await map_state(wall, SILENT))["lost"] == "false"

            # the silent vessel: the others report for more than a minute of event time
            for _ in range(6):
                await movers.round(skip=SILENT)
            await until(wall, f"() => document.querySelector('#map g.marker[data-source="
                              f"\"{SILENT}\"]').dataset.lost === 'true'")
            assert (await map_state(wall, "vms-ST-01"))["lost"] == "false"
            assert (await map_state(wall, "bus-HC-01"))["lost"] == "false"
            assert await wall.page.get_attribute("#map", "data-lost") == "1"
            assert await wall.page.locator(
                f'#map g.marker[data-source="{SILENT}"] .lost-label').count() == 1
            await wall.shot(f"map-wall-{label}.png")

            summary = await open_page(browser, f"{d.url}/summary?kiosk=1#token={LEADERSHIP}",
                                      size)
            await until(summary, "() => document.getElementById('map').dataset.districts === "
                                 "'8' && document.getElementById('map').dataset.lost === '1'")
            assert (await map_state(summary, "flood-HC-01"))["severity"] == "critical"
            await summary.shot(f"map-summary-{label}.png")
            assert wall.errors == [] and summary.errors == []
    finally:
        await movers.producer.stop()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_clicks_on_the_map_filter_the_board_and_open_the_detail(
        size: tuple[int, int], producer: Producer, start_dashboard: Any, kafka_bootstrap: str,
        position_topic: str) -> None:
    """On the wall: a district clicked filters the board to it (clicked again: all), a
    marker with an alert filters to its district and opens that alert's detail. On the
    summary: a district clicked opens the wall filtered to it."""
    flood = alert("flood-HC-01", severity="critical")
    air = alert("air-ST-01", group="environment", metric="pm25", severity="warning",
                district="Son Tra", detector="robust_z")
    await producer.alerts([flood, air])
    d = await start_dashboard(position_topics=(position_topic,))
    async with chromium() as browser:
        wall = await open_page(browser, d.wall_url, size)
        await wall.live()
        await until(wall, "() => Number(document.getElementById('map').dataset.markers) > 100")
        await click(wall, '#map path.district[data-district="Son Tra"]')
        assert await wall.page.input_value("#f-district") == "Son Tra"
        await until(wall, "() => document.querySelectorAll('#board li.alert').length === 1")
        assert await wall.row(air.alert_id, "#board").count() == 1
        await click(wall, '#map path.district[data-district="Son Tra"]')
        assert await wall.page.input_value("#f-district") == ""
        await until(wall, "() => document.querySelectorAll('#board li.alert').length === 2")

        await click(wall, '#map g.marker[data-source="flood-HC-01"]')
        await wall.page.locator("#detail").wait_for(state="visible", timeout=5000)
        assert await wall.page.input_value("#f-district") == "Hai Chau"
        assert await wall.page.evaluate("window.IOC_WALL.state.selected") == flood.alert_id
        await wall.shot(f"map-wall-click-{size[0]}x{size[1]}.png")

        summary = await open_page(browser, d.summary_url, size)
        await until(summary, "() => Number(document.getElementById('map').dataset.markers) > 100")
        await click(summary, '#map path.district[data-district="Son Tra"]')
        await summary.page.wait_for_url("**/?district=Son%20Tra")
        assert wall.errors == [] and summary.errors == []
