"""A district operator in a browser (Chromium): the operator of Lien Chieu signs in, sees only
Lien Chieu's alerts on the wall, and cannot acknowledge a Hai Chau alert: the server refuses
even a command the page sends by hand over its own websocket (issue 12, item 4)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from dashkit import SETTINGS, Producer, accounts_db
from test_browser import alert, board, browser, open_tab, sign_in  # noqa: F401
from test_scope_server import commands_written

from dashboards.feed import Topics

pytestmark = pytest.mark.timeout(120)

# A websocket of the page's own (the session cookie goes with it), a command typed by hand,
# and the server's answer to it.
HAND_MADE_ACK = """async (alertId) => {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                           location.host + "/ws");
  const frames = [];
  const answer = new Promise((resolve, reject) => {
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      frames.push(f.type);
      if (f.type === "snapshot")
        ws.send(JSON.stringify({type: "command", ref: "by-hand", action: "ack",
                                alert_id: alertId, reason: "not mine"}));
      if (f.ref === "by-hand") resolve(f);
    };
    ws.onerror = () => reject(new Error("websocket error"));
    setTimeout(() => reject(new Error("no answer; frames: " + frames.join(","))), 10000);
  });
  ws.onopen = () => ws.send(JSON.stringify({type: "auth"}));
  try { return await answer; } finally { ws.close(); }
}"""


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return accounts_db(tmp_path, ("an", "An Le", "operator", "Lien Chieu"))


async def test_a_lien_chieu_operator_sees_lien_chieu_only_and_cannot_ack_hai_chau(
        browser: Any, start_dashboard: Any, db_url: str, producer: Producer,  # noqa: F811
        kafka_bootstrap: str, topic_names: Topics) -> None:
    mine = alert("flood-LC-01", district="Lien Chieu", severity="major")
    theirs = alert("flood-HC-01", district="Hai Chau", severity="critical")
    await producer.alerts([mine, theirs])
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))
    tab = await open_tab(browser, "about:blank")
    await sign_in(tab, d.url, "an")
    assert await board(tab.page, 1) == [mine.alert_id]
    assert await tab.row(theirs.alert_id).count() == 0
    await tab.shot("wall-lien-chieu.png")

    refused = await tab.page.evaluate(HAND_MADE_ACK, theirs.alert_id)
    assert (refused["type"], refused["code"], refused["field"]) == ("error", "forbidden",
                                                                    "alert_id")
    assert "outside your scope" in refused["reason"]
    accepted = await tab.page.evaluate(HAND_MADE_ACK, mine.alert_id)
    assert accepted["type"] == "accepted"
    written = await commands_written(kafka_bootstrap, topic_names.commands)
    assert [(c.alert_id, c.user) for c in written] == [(mine.alert_id, "operator:an")]
    assert d.registry.get_sample_value("ioc_dashboard_commands_rejected_total",
                                       {"reason": "out_of_scope"}) == 1
    assert tab.errors == []
