"""The dashboard's archive routes on a real dashboard (real Kafka) reading a real store on
SQLite and PostgreSQL: history search and an alert's history, reports and their CSV, the
/reports page, who may read them (any role's token; none: 401), a store that is down (503 with
the reason, no traceback), and ``ioc report --format json`` giving the same figures as
``/api/reports``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from dashkit import ENGINEER, LEADERSHIP, OPERATOR, SETTINGS, make_indicator
from dbkit import BACKENDS, empty_database

from archive import report
from archive.records import Batch
from archive.sample import sample_day
from archive.store import Store
from ioc.events import GroupIndicator, encode

pytestmark = [pytest.mark.kafka]

DAY = "2026-12-02"
T0 = report.period("day", DAY).start
FLOOD = "robust_z:flooding:flood-HC-01:flood_depth"
IOC = Path(sys.executable).parent / "ioc"

@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a store holding :func:`archive.sample.sample_day`, on each back end."""
    with empty_database(request.param, tmp_path) as url:
        store = Store(url)
        store.migrate()
        sample_day(store, T0)
        store.close()
        yield url


def http_get(url: str, token: str | None = None) -> tuple[int, Message, bytes]:
    """Status, headers (names compare case-insensitively, as in HTTP) and body."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


async def get(url: str, token: str | None = None) -> tuple[int, Message, bytes]:
    import asyncio

    return await asyncio.to_thread(http_get, url, token)


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str
                     ) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


async def test_any_role_reads_reports_and_no_token_is_401(
        start_dashboard: Any, database_url: str) -> None:
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=database_url))
    q = urlencode({"period": "day", "from": DAY})
    for token in (LEADERSHIP, ENGINEER, OPERATOR):
        status, headers, body = await get(f"{d.url}/api/reports?{q}", token)
        assert status == 200, body
        got = json.loads(body)
        assert (got["totals"]["opened"], got["totals"]["mtta_s"]) == (3, 400.0)
    for token in (None, "not-a-token-at-all"):
        status, headers, _ = await get(f"{d.url}/api/reports?{q}", token)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert (await get(f"{d.url}/api/history/alerts", token))[0] == 401
        assert (await get(f"{d.url}/api/reports.csv?{q}", token))[0] == 401
    status, headers, body = await get(f"{d.url}/api/reports.csv?{q}", LEADERSHIP)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert 'filename="ioc-report-2026-12-02-2026-12-02.csv"' in headers["Content-Disposition"]
    assert body.decode().splitlines()[1].startswith("city,all,3,")
    status, headers, body = await get(f"{d.url}/reports", LEADERSHIP)
    assert status == 200 and b'src="/static/reports.js"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]


async def test_history_search_pages_and_an_alerts_history(
        start_dashboard: Any, database_url: str) -> None:
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=database_url))
    q = urlencode({"group": "flooding", "source": "flood-HC-01", "limit": 3,
                   "since": T0, "until": T0 + 86400})
    status, _, body = await get(f"{d.url}/api/history/alerts?{q}", OPERATOR)
    assert status == 200, body
    page = json.loads(body)
    assert [r["change"] for r in page["alerts"]] == ["resolved", "note", "acknowledged"]
    status, _, body = await get(f"{d.url}/api/history/alerts?{q}&cursor={page['next']}",
                                OPERATOR)
    page2 = json.loads(body)
    assert [r["change"] for r in page2["alerts"]] == ["escalated", "opened"]
    assert page2["next"] is None
    text = urlencode({"text": "flood depth 34"})
    status, _, body = await get(f"{d.url}/api/history/alerts?{text}", LEADERSHIP)
    assert {r["alert_id"] for r in json.loads(body)["alerts"]} == {FLOOD}

    status, _, body = await get(f"{d.url}/api/history/alerts/{quote(FLOOD, safe='')}",
                                ENGINEER)
    assert status == 200, body
    h = json.loads(body)
    assert [v["change"] for v in h["versions"]][-4:] == ["escalated", "acknowledged", "note",
                                                         "resolved"]
    assert h["versions"][-3]["user_name"] == "operator:lan"
    assert h["versions"][-2]["notes"][-1]["text"] == "crew at the pump"
    assert [(c["action"], c["user"], c["reason"]) for c in h["commands"]] == [
        ("ack", "operator:lan", "crew sent")]
    status, _, body = await get(f"{d.url}/api/history/alerts/{quote('d:g:s:m', safe='')}",
                                OPERATOR)
    assert status == 404 and json.loads(body)["error"] == "alert_id"


@pytest.mark.parametrize("query, field", [
    ("group=nope", "group"), ("severity=huge", "severity"), ("since=soon", "since"),
    ("limit=lots", "limit"), ("limit=100000", "limit"), ("cursor=xyz", "cursor"),
    ("colour=red", "colour"), ("group=traffic&group=flooding", "group")])
async def test_bad_search_parameters_are_400_naming_them(
        start_dashboard: Any, tmp_path: Path, query: str, field: str) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=url))
    status, _, body = await get(f"{d.url}/api/history/alerts?{query}", OPERATOR)
    assert status == 400 and json.loads(body)["error"] == field, body


async def test_bad_report_parameters_are_400_naming_them(start_dashboard: Any,
                                                         tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=url))
    for query, field in (("period=day", "from"), ("period=year&from=2026-01-01", "period"),
                         ("from=2026-12-01", "to"), ("period=day&from=2026-12-01&group=x",
                                                     "group")):
        status, _, body = await get(f"{d.url}/api/reports?{query}", LEADERSHIP)
        assert status == 400 and json.loads(body)["error"] == field, (query, body)


async def test_a_store_that_is_down_answers_503_with_the_reason(start_dashboard: Any) -> None:
    """An archive database nobody listens on: 503 and the reason, the dashboard keeps going
    (its health and its other routes are untouched)."""
    down = "postgresql+psycopg://ioc@127.0.0.1:9/ioc?connect_timeout=2"
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=down))
    for path in ("/api/history/alerts", f"/api/history/alerts/{quote(FLOOD, safe='')}",
                 f"/api/reports?period=day&from={DAY}", f"/api/reports.csv?period=day&from={DAY}"):
        status, _, body = await get(d.url + path, OPERATOR)
        assert status == 503, (path, body)
        err = json.loads(body)
        assert err["error"] == "archive_unavailable"
        assert "IOC_DATABASE_URL" in err["reason"] and "Traceback" not in err["reason"]
    assert (await get(f"{d.url}/healthz"))[0] == 200
    assert (await get(f"{d.url}/api/summary", LEADERSHIP))[0] == 200


async def test_ioc_report_json_gives_the_figures_of_api_reports(
        start_dashboard: Any, database_url: str) -> None:
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=database_url))
    for args in ({"period": "week", "from": DAY}, {"period": "custom", "from": "2026-12-01",
                                                    "to": DAY, "group": "flooding"}):
        status, _, body = await get(f"{d.url}/api/reports?{urlencode(args)}", LEADERSHIP)
        assert status == 200, body
        cli_args = ["--period", args["period"], "--from", args["from"]]
        cli_args += ["--to", args["to"]] if "to" in args else []
        cli_args += ["--group", args["group"]] if "group" in args else []
        done = subprocess.run([str(IOC), "report", *cli_args, "--format", "json"],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "IOC_DATABASE_URL": database_url})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == json.loads(body)
        assert json.loads(body)["totals"]["opened"] >= 2


async def test_the_summary_trends_come_from_the_archive_after_a_restart(
        start_dashboard: Any, producer: Any, tmp_path: Path) -> None:
    """A dashboard that has seen no indicator yet (just restarted) shows the last hours of
    each group's KPI trend, and each district's open alerts and sources in breach, from the
    archive's hourly roll-ups; a live point is kept as is."""
    now = time.time()
    hour = now - now % 3600 - 3 * 3600
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    store = Store(url)
    store.migrate()
    b = Batch()
    for n, (district, depth) in enumerate((("Hai Chau", 30.0), ("Son Tra", 12.0))):
        b.add("indicators", "t.indicators", 0, n, encode(GroupIndicator(
            group="flooding", district=district, start=hour + 60, end=hour + 120,
            sources_reporting=5, sources_expected=6, sources_in_breach=1,
            open_alerts={"warning": 2, "critical": 1} if n == 0 else {},
            kpis={"max_depth": depth, "flooded_points": 1.0})))
    store.write("t", b, expected={})
    store.close()
    live = make_indicator(end=now - 60)
    await producer.indicators([live])
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=url))

    async def trend() -> list[dict[str, Any]]:
        status, _, body = await get(f"{d.url}/api/summary", LEADERSHIP)
        assert status == 200
        return next(g for g in json.loads(body)["groups"] if g["group"] == "flooding")["trend"]

    got: list[dict[str, Any]] = []

    async def filled() -> bool:
        got[:] = await trend()
        return any(p.get("archived") for p in got)

    await wait_until(filled, 30, "archived trend points in /api/summary")
    archived = [p for p in got if p.get("archived")]
    assert {p["t"] for p in archived} == {hour + 300 * k for k in range(12)}
    assert archived[0]["kpis"] == {"max_depth": 30.0, "flooded_points": 2.0}
    live_points = [p for p in got if not p.get("archived")]
    assert [p["t"] for p in live_points] == [live.start - live.start % 300]
    status, _, body = await get(f"{d.url}/api/summary", LEADERSHIP)
    assert status == 200
    districts = {x["district"]: x["trend"] for x in json.loads(body)["districts"]}
    hai_chau = [p for p in districts["Hai Chau"] if p.get("archived")]
    assert {p["t"] for p in hai_chau} == {hour + 300 * k for k in range(12)}
    assert (hai_chau[0]["open_alerts"], hai_chau[0]["sources_in_breach"]) == (3.0, 1.0)
    son_tra = [p for p in districts["Son Tra"] if p.get("archived")]
    assert (son_tra[0]["open_alerts"], son_tra[0]["sources_in_breach"]) == (0.0, 1.0)


async def test_a_database_that_goes_away_is_503_until_it_comes_back(
        start_dashboard: Any, tmp_path: Path) -> None:
    """PostgreSQL stopped under an open store: the archive routes answer 503 with the reason
    (never a traceback, the dashboard keeps serving), and 200 again once it is back."""
    base = os.environ.get("IOC_TEST_DATABASE_URL", "")
    state = os.environ.get("IOC_TEST_PG_STATE_DIR", "")
    if not (base and state):
        pytest.skip("needs the PostgreSQL of scripts/test.sh (IOC_TEST_PG_STATE_DIR)")
    with empty_database("postgresql", tmp_path) as url:
        store = Store(url)
        store.migrate()
        sample_day(store, T0)
        store.close()
        d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=url))
        search = f"{d.url}/api/history/alerts?group=flooding"
        assert (await get(search, OPERATOR))[0] == 200
        pg = {**os.environ, "PG_STATE_DIR": state,
              "PG_PORT": str(sa.engine.make_url(base).port)}
        script = str(Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh")
        subprocess.run([script, "halt"], env=pg, check=True, timeout=60, capture_output=True)
        try:
            for path in (search, f"{d.url}/api/reports?period=day&from={DAY}"):
                status, _, body = await get(path, OPERATOR)
                assert status == 503, body
                err = json.loads(body)
                assert err["error"] == "archive_unavailable", err
                assert "the archive database is unavailable" in err["reason"]
            assert (await get(f"{d.url}/healthz"))[0] == 200
        finally:
            subprocess.run([script, "resume"], env=pg, check=True, timeout=60,
                           capture_output=True)

        async def back() -> bool:
            return (await get(search, OPERATOR))[0] == 200

        await wait_until(back, 60, "the archive routes to answer again")
