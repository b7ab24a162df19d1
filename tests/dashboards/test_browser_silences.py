"""The wall's silences list in headless Chromium against the real dashboard server and a real
Kafka broker (issue 9, defect 3): the silences in force are listed with who, why and until;
silences the worker's policy refuses are not; the Unsilence button writes an ``unsilence``
command and the silence leaves the list once the command is on ``ioc.commands``; a silence
made from an alert's detail appears in the list.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dashkit import OPERATOR, Producer, open_client
from test_browser import alert, chromium, commands_on, open_tab

from dashboards.feed import Topics
from ioc.events import Command, encode

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.slow]

NOW = time.time()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def send_commands(producer: Producer, names: Topics, *commands: Command) -> None:
    """Commands as the dashboard writes them (key: the group or the silence)."""
    for c in commands:
        await producer.producer.send(names.commands, encode(c), key=c.command_id.encode())
    await producer.producer.flush()


def silence(cid: str, *, user: str = "operator", **matchers: str) -> Command:
    return Command(command_id=cid, action="silence", user=user, ts=NOW, until=NOW + 3600,
                   reason="pump station works", matchers=matchers)


async def test_the_silences_list_lifts_a_silence_with_its_unsilence_button(
        browser: Any, producer: Producer, start_dashboard: Any, topic_names: Topics,
        kafka_bootstrap: str) -> None:
    held = alert("flood-HC-01", status="silenced", change="silenced", user="operator")
    await producer.alerts([held])
    await send_commands(producer, topic_names,
                        silence("s-works", group="flooding", district="Hai Chau"),
                        silence("s-broad", category="city"))      # refused by the policy
    d = await start_dashboard()
    tab = await open_tab(browser, d.wall_url)
    await tab.live()
    page = tab.page
    items = page.locator("#sil-list li.silence")
    await playwright_api.expect(items).to_have_count(1, timeout=5000)
    item = page.locator('#sil-list li.silence[data-silence-id="s-works"]')
    text = await item.inner_text()
    assert "Hai Chau" in text and "flooding" in text and "pump station works" in text
    assert await page.locator("#sil-count").inner_text() == "1"

    await item.locator("button[data-unsilence]").click()
    sent = await commands_on(topic_names.commands, kafka_bootstrap, want=3)
    lift = [c for c in sent if c.action == "unsilence"]
    assert [(c.silence_id, c.user) for c in lift] == [("s-works", "operator")]
    await playwright_api.expect(items).to_have_count(0, timeout=15000)
    assert await page.locator("#silences").is_hidden()

    # a silence made from an alert's detail shows up in the list
    await tab.row(held.alert_id).click()
    await page.locator("#detail .act-silence").click()
    made = page.locator("#sil-list li.silence")
    await playwright_api.expect(made).to_have_count(1, timeout=15000)
    assert held.alert_id in await made.inner_text()
    assert tab.errors == []
    await tab.shot("wall-silences.png")


async def test_read_only_roles_get_no_unsilence_button(
        browser: Any, producer: Producer, start_dashboard: Any, topic_names: Topics) -> None:
    """Engineers see the silences in force but cannot lift them (the server refuses too)."""
    await send_commands(producer, topic_names, silence("s-1", group="traffic"))
    d = await start_dashboard()
    tab = await open_tab(browser, f"{d.url}/#token={d.tokens.engineer}")
    await tab.live()
    item = tab.page.locator('#sil-list li.silence[data-silence-id="s-1"]')
    await item.wait_for(timeout=5000)
    assert await item.locator("button[data-unsilence]").count() == 0
    assert tab.errors == []


async def test_the_server_refuses_bad_silences_with_an_error_frame(
        start_dashboard: Any, topic_names: Topics, kafka_bootstrap: str) -> None:
    """Checked on the server, never only in a page: matchers against the catalog, the
    broad-silence rule, the longest silence; a declared name is not the audit user."""
    d = await start_dashboard()
    c = await open_client(d, OPERATOR, name="Director Tran")
    welcome = await c.until("welcome")
    assert welcome["user"] == "operator"
    cases = [
        ({"matchers": {"group": "no-such-group"}, "duration_s": 60},
         "invalid_command", "matchers.group"),
        ({"matchers": {"group": "traffic", "district": ""}, "duration_s": 60},
         "invalid_command", "matchers.district"),
        ({"matchers": {"category": "city"}, "duration_s": 60}, "forbidden", "matchers"),
        ({"matchers": {"group": "traffic"}, "duration_s": 30 * 86_400},
         "invalid_command", "duration_s"),
        ({"silence_id": "s-1"}, "invalid_command", "silence_id"),
    ]
    for i, (fields, code, field) in enumerate(cases):
        await c.send({"type": "command", "ref": f"r{i}", "action": "silence", **fields})
        err = await c.until("error")
        assert (err["code"], err["field"], err["ref"]) == (code, field, f"r{i}"), fields
    await c.send({"type": "command", "ref": "ok", "action": "silence", "name": "Director Tran",
                  "matchers": {"group": "traffic"}, "duration_s": 600})
    assert (await c.until("accepted"))["ref"] == "ok"
    (cmd,) = await commands_on(topic_names.commands, kafka_bootstrap, want=1)
    assert cmd.user == "operator" and "Tran" not in encode(cmd).decode()
