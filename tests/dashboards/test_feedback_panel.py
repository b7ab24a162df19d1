"""The engineers' detector-feedback panel: ``/api/feedback`` on a real dashboard (real Kafka)
reading a real SQLite archive holding labels; engineers read it, operators and leadership get
403, no credentials 401; the reports page loads the panel's script and holds its section."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from dashkit import ENGINEER, LEADERSHIP, OPERATOR, SETTINGS, evidence
from test_history import get

from archive.feedback import write_feedback
from archive.store import Store
from ioc.events import Alert

pytestmark = [pytest.mark.kafka]

T0 = 1_796_353_200.0  # 2026-12-04 10:00 in Da Nang


def labelled(n: int, label: str) -> Alert:
    return Alert(alert_id=f"robust_z:flooding:flood-HC-0{n}:flood_depth", version=3,
                 status="resolved", severity="warning", category="city", group="flooding",
                 district="Hai Chau", source=f"flood-HC-0{n}", metric="flood_depth",
                 detector="robust_z", title="t", first_seen=T0 + n, last_seen=T0 + 600,
                 count=4, updated_at=T0 + 900, change="resolved", evidence=evidence(),
                 user="operator:lan", label=label)  # type: ignore[arg-type]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    store = Store(url)
    store.migrate()
    write_feedback(store, [labelled(1, "real"), labelled(2, "real"),
                           labelled(3, "false_alarm")], [])
    write_feedback(store, [labelled(1, "real")], [])  # replayed: nothing doubles
    store.close()
    return url


async def test_engineers_read_the_feedback_and_others_do_not(
        start_dashboard: Any, database_url: str) -> None:
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=database_url))
    q = urlencode({"since": T0 - 3600, "by": "all"})
    status, _, body = await get(f"{d.url}/api/feedback?{q}", ENGINEER)
    assert status == 200, body
    (row,) = json.loads(body)["rows"]
    assert (row["detector"], row["labelled"], row["real"], row["false_alarm"],
            row["precision"]) == ("robust_z", 3, 2, 1, 0.6667)
    for token in (OPERATOR, LEADERSHIP):
        status, _, body = await get(f"{d.url}/api/feedback?{q}", token)
        assert status == 403 and json.loads(body)["error"] == "role"
    assert (await get(f"{d.url}/api/feedback?{q}", None))[0] == 401
    status, _, body = await get(f"{d.url}/api/feedback?by=year", ENGINEER)
    assert status == 400 and json.loads(body)["error"] == "by"
    status, _, body = await get(f"{d.url}/reports", ENGINEER)
    assert status == 200 and b'src="/static/feedback.js"' in body and b'id="r-feedback"' in body
