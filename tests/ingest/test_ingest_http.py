"""``POST /api/v1/readings`` on a real server, Kafka and accounts database: every status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ingestkit import Topics

from archive.access import Access
from archive.accounts import parse_scope
from archive.run import open_store
from ingest.http import serve
from ioc.settings import Settings


@dataclass
class Api:
    url: str
    keys: dict[str, str]
    topics: Topics


def reading(source: str = "rain-HC-01", district: str = "Hai Chau", value: float = 1.0,
            group: str = "flooding", metric: str = "rainfall") -> dict[str, object]:
    return {"group": group, "source": source, "metric": metric, "value": value,
            "ts": 1795410000, "district": district}


@pytest.fixture
async def api(topics: Topics, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings.from_env({
        "IOC_DATABASE_URL": f"sqlite:///{tmp_path / 'accounts.db'}",
        "IOC_INGEST_MAX_BODY_BYTES": "20000", "IOC_INGEST_RATE_PER_S": "1",
        "IOC_INGEST_BURST": "30"})
    store = open_store(settings)
    access = Access(store)
    keys = {name: access.add_key(name, role, parse_scope(districts, groups))[1]
            for name, role, districts, groups in [
                ("gauges", "ingest", "", ""), ("lc-flood", "ingest", "Lien Chieu", "flooding"),
                ("viewer", "operator", "", ""), ("tiny", "ingest", "", "")]}
    access.revoke_key("tiny")
    store.close()
    stop = asyncio.Event()
    port: list[int] = []
    task = asyncio.create_task(serve(settings, topics.bootstrap, host="127.0.0.1", port=0,
                                     prefix=topics.prefix, started=port.append, stop=stop))
    while not port:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield Api(f"http://127.0.0.1:{port[0]}", keys, topics)
    finally:
        stop.set()
        await task


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_one_reading_and_a_partly_bad_batch_are_202(api: Api) -> None:
    """A reading and a batch go to Kafka; the bad item of a batch is listed by index and field
    while the good ones go through."""
    async with httpx.AsyncClient(base_url=api.url) as client:
        one = await client.post("/api/v1/readings", content=json.dumps(reading(value=2.5)),
                                headers=auth(api.keys["gauges"]))
        assert one.status_code == 202 and one.json() == {"accepted": 1, "errors": []}
        bad = reading(source="rain-HC-02")
        bad["value"] = "high"
        batch = [reading(source="rain-HC-03", value=3.0), bad,
                 reading(source="rain-HC-04", district="Atlantis")]
        got = await client.post("/api/v1/readings", json=batch,
                                headers=auth(api.keys["gauges"]))
    assert got.status_code == 202, got.text
    body = got.json()
    assert body["accepted"] == 1
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "value"), (2, "district")]
    stored = api.topics.readings("flooding")
    assert sorted((r.source, r.value) for r in stored) == [("rain-HC-01", 2.5),
                                                            ("rain-HC-03", 3.0)]


async def test_statuses_400_401_403_413(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        post = client.post
        assert (await post("/api/v1/readings", content=b"not json",
                           headers=auth(api.keys["gauges"]))).status_code == 400
        assert (await post("/api/v1/readings", json=[],
                           headers=auth(api.keys["gauges"]))).status_code == 400
        assert (await post("/api/v1/readings", json=[{"group": "flooding"}],
                           headers=auth(api.keys["gauges"]))).status_code == 400
        none = await post("/api/v1/readings", json=reading())
        assert none.status_code == 401 and "Bearer" in none.headers["www-authenticate"]
        assert (await post("/api/v1/readings", json=reading(),
                           headers=auth("iok_made_up"))).status_code == 401
        assert (await post("/api/v1/readings", json=reading(),
                           headers=auth(api.keys["tiny"]))).status_code == 401  # revoked
        viewer = await post("/api/v1/readings", json=reading(),
                            headers=auth(api.keys["viewer"]))
        assert viewer.status_code == 403 and "ingest" in viewer.json()["reason"]
        big = await post("/api/v1/readings", json=[reading()] * 400,
                         headers=auth(api.keys["gauges"]))
        assert big.status_code == 413
    assert api.topics.readings("flooding") == []


async def test_a_key_posts_only_in_its_districts_and_groups(api: Api) -> None:
    """A Lien Chieu flooding key: its district goes through, another district or group is an
    item error; a batch wholly outside the scope is 403."""
    lc = auth(api.keys["lc-flood"])
    async with httpx.AsyncClient(base_url=api.url) as client:
        mixed = await client.post("/api/v1/readings", headers=lc, json=[
            reading(source="flood-LC-01", district="Lien Chieu", metric="flood_depth"),
            reading(source="flood-HC-01", district="Hai Chau", metric="flood_depth"),
            reading(source="air-LC-01", district="Lien Chieu", group="environment",
                    metric="pm25")])
        outside = await client.post("/api/v1/readings", headers=lc,
                                    json=reading(district="Son Tra"))
    assert mixed.status_code == 202
    assert mixed.json()["accepted"] == 1
    assert [(e["index"], e["field"]) for e in mixed.json()["errors"]] == [
        (1, "district"), (2, "group")]
    assert outside.status_code == 403
    assert [r.source for r in api.topics.readings("flooding")] == ["flood-LC-01"]
    assert api.topics.readings("environment") == []


async def test_429_with_retry_after_when_a_key_exceeds_its_rate(api: Api) -> None:
    """Burst 30, 1 reading/s: 25 then 25 more is over; Retry-After says when to come back."""
    async with httpx.AsyncClient(base_url=api.url) as client:
        first = await client.post("/api/v1/readings", json=[reading()] * 25,
                                  headers=auth(api.keys["gauges"]))
        second = await client.post("/api/v1/readings", json=[reading()] * 25,
                                   headers=auth(api.keys["gauges"]))
        other = await client.post("/api/v1/readings", json=reading(district="Lien Chieu"),
                                  headers=auth(api.keys["lc-flood"]))
    assert first.status_code == 202
    assert second.status_code == 429 and 1 <= int(second.headers["retry-after"]) <= 30
    assert other.status_code == 202  # another key has its own bucket


async def test_a_batch_over_the_burst_is_413_naming_the_limit_not_429(api: Api) -> None:
    """Burst 30: a batch of 31 could never be paid for, so it is 413 naming the limit and
    IOC_INGEST_BURST (no Retry-After), and it spends nothing of the key's bucket."""
    async with httpx.AsyncClient(base_url=api.url) as client:
        over = await client.post("/api/v1/readings", json=[reading()] * 31,
                                 headers=auth(api.keys["gauges"]))
        within = await client.post("/api/v1/readings", json=[reading()] * 30,
                                   headers=auth(api.keys["gauges"]))
        doc = (await client.get("/api/v1/openapi.json")).json()
    assert over.status_code == 413 and "retry-after" not in over.headers
    reason = over.json()["reason"]
    assert "31 readings" in reason and "limit of 30" in reason and "IOC_INGEST_BURST" in reason
    assert within.status_code == 202, within.text
    body = doc["paths"]["/api/v1/readings"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["oneOf"][1]["maxItems"] == 30


async def test_openapi_describes_the_endpoint(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        doc = (await client.get("/api/v1/openapi.json")).json()
        metrics = (await client.get("/metrics")).text
    post = doc["paths"]["/api/v1/readings"]["post"]
    assert doc["openapi"].startswith("3.1")
    assert set(post["responses"]) >= {"202", "400", "401", "403", "413", "429"}
    assert "Retry-After" in post["responses"]["429"]["headers"]
    assert "ioc_ingest_http_requests_total" in metrics


def test_ioc_keys_add_makes_an_ingest_key_the_dashboard_does_not_take(tmp_path: Path) -> None:
    """`ioc keys add NAME --role ingest` prints a secret; the ingest API finds the key, the
    dashboard's look-up (without ``ingest=True``) does not."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    done = subprocess.run([sys.executable, "-m", "ioc", "keys", "add", "gauges", "--role",
                           "ingest", "--districts", "Lien Chieu"], capture_output=True,
                          text=True, env={"IOC_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "key gauges: ingest, districts=Lien Chieu" in done.stdout
    secret = done.stdout.splitlines()[1].strip()
    store = open_store(Settings.from_env({"IOC_DATABASE_URL": url}))
    try:
        access = Access(store)
        assert access.key(secret) is None
        found = access.key(secret, ingest=True)
        assert found is not None and found.role == "ingest"
        assert found.scope.districts == ("Lien Chieu",)
    finally:
        store.close()
