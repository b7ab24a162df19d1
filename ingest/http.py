"""``ioc ingest http``: ``POST /api/v1/readings`` on its own port (Starlette + uvicorn).

A request is answered in this order: 413 when the body is over ``IOC_INGEST_MAX_BODY_BYTES``
(read no further); 401 without a live API key (``Authorization: Bearer iok_...``); 403 for a
key whose role is not ``ingest``; 400 for a body that is not a reading or a batch; 413 for a
batch longer than :func:`~ingest.batch.max_batch` (10,000, or ``IOC_INGEST_BURST`` when that
is smaller: the bucket could never pay for it, so 429 would be wrong); 429 with
``Retry-After`` when the key's readings-per-second bucket (``IOC_INGEST_RATE_PER_S``,
``IOC_INGEST_BURST``) cannot pay for the batch; 403 when every item is outside the key's
districts or groups; else the valid items in scope are produced (idempotent producer,
``acks=all``) and the answer, once Kafka has them, is 202 with ``accepted`` and the refused
items in ``errors`` (index, field, reason). Also ``GET /api/v1/openapi.json``, ``/healthz``
and ``/metrics``.

A key is looked up in the archive's database at most every :data:`KEY_CACHE_S` seconds (a
revoked key stops working within that).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from archive.access import Access
from archive.accounts import Principal
from ingest.batch import TokenBucket, max_batch, parse_body, too_long
from ingest.openapi import openapi
from ingest.records import records_of
from ioc.errors import IocError, ValidationError
from ioc.events import encode
from ioc.settings import Settings

KEY_CACHE_S = 5.0
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ioc-ingest"'}


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(encode(body), status, headers={"Cache-Control": "no-store",
                                                   **(headers or {})},
                    media_type="application/json")


class IngestApi:
    """The handlers; ``access`` finds keys, ``producer`` is a started aiokafka producer."""

    def __init__(self, settings: Settings, access: Access, producer: Any, *,
                 prefix: str = "ioc", registry: CollectorRegistry | None = None) -> None:
        self.settings, self.access, self.producer, self.prefix = settings, access, producer, prefix
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("ioc_ingest_http_requests_total",
                                "Requests to POST /api/v1/readings, by status", ["status"],
                                registry=self.registry)
        self.readings = Counter("ioc_ingest_readings_total",
                                "Readings produced to Kafka, by path and group",
                                ["path", "group"], registry=self.registry)
        self.refused = Counter("ioc_ingest_http_refused_items_total",
                               "Items of accepted requests refused (invalid or out of scope)",
                               registry=self.registry)
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._openapi = encode(openapi(settings.ingest_max_body_bytes,
                                       max_batch(settings.ingest_burst)))

    async def principal(self, authorization: str | None) -> Principal | None:
        scheme, _, secret = (authorization or "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        now = time.monotonic()
        cached = self._keys.get(secret)
        if cached is not None and now - cached[0] < KEY_CACHE_S:
            return cached[1]
        found = await asyncio.to_thread(self.access.key, secret, ingest=True)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[secret] = (now, found)
        return found

    async def body(self, request: Request) -> bytes | None:
        """The body, or None once it grows over the limit."""
        limit = self.settings.ingest_max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def post(self, request: Request) -> Response:
        response = await self._post(request)
        self.requests.labels(status=str(response.status_code)).inc()
        return response

    async def _post(self, request: Request) -> Response:
        limit = self.settings.ingest_max_body_bytes
        raw = await self.body(request)
        if raw is None:
            return answer(413, {"error": "$", "reason": f"the body is over {limit} bytes"})
        try:
            who = await self.principal(request.headers.get("authorization"))
        except IocError:
            return answer(503, {"error": "accounts", "reason": "the accounts database "
                                "cannot be reached; try again"})
        if who is None:
            return answer(401, {"error": "authorization", "reason": "send a live API key as "
                                "`Authorization: Bearer <key>`"}, CHALLENGE)
        if who.role != "ingest":
            return answer(403, {"error": "authorization", "reason": f"the key's role is "
                                f"{who.role}: posting readings needs an `ingest` key"})
        try:
            batch = parse_body(raw)
        except ValidationError as exc:
            return answer(400, {"error": exc.field, "reason": exc.reason})
        over = too_long(batch.size, self.settings.ingest_burst)
        if over is not None:
            return answer(413, {"error": "$", "reason": over})
        errors = [{"index": i, "field": f, "reason": r} for i, f, r in batch.errors]
        bucket = self._buckets.get(who.login)
        now = time.monotonic()
        if bucket is None:
            bucket = self._buckets[who.login] = TokenBucket(
                self.settings.ingest_rate_per_s, self.settings.ingest_burst, now)
        if not bucket.take(batch.size, now):
            wait = bucket.retry_after(batch.size)
            return answer(429, {"error": "rate", "reason": f"over {who.display_name}'s rate "
                                f"of {self.settings.ingest_rate_per_s:g} readings/s"},
                          {"Retry-After": str(wait)})
        scope = who.scope
        ok = []
        for i, r in batch.readings:
            if scope.allows(district=r.district, group=r.group):
                ok.append(r)
            else:
                errors.append({"index": i, "field": "district" if scope.districts and
                               r.district not in scope.districts else "group",
                               "reason": f"outside the key's scope ({scope.describe()})"})
        if not ok:
            status = 403 if batch.readings else 400  # all out of scope, or all invalid
            return answer(status, {"accepted": 0, "errors": sorted(
                errors, key=lambda e: e["index"])})
        try:
            futures = [await self.producer.send(topic, value, key=key)
                       for topic, key, value in records_of(ok, self.prefix)]
            await asyncio.gather(*futures)
        except Exception as exc:
            return answer(503, {"error": "kafka", "reason": f"Kafka did not take the readings "
                                f"({str(exc)[:120] or type(exc).__name__}); send them again"})
        for r in ok:
            self.readings.labels(path="http", group=r.group).inc()
        self.refused.inc(len(errors))
        return answer(202, {"accepted": len(ok), "errors": sorted(errors,
                                                                  key=lambda e: e["index"])})

    async def spec(self, request: Request) -> Response:
        return Response(self._openapi, 200, media_type="application/json")

    async def healthz(self, request: Request) -> Response:
        return answer(200, {"status": "ok"})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), 200, media_type=CONTENT_TYPE_LATEST)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/api/v1/readings", self.post, methods=["POST"]),
            Route("/api/v1/openapi.json", self.spec, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ])


def kafka_producer(bootstrap: str) -> Any:
    """An idempotent aiokafka producer with ``acks=all`` (start it inside the loop)."""
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                            linger_ms=5, client_id="ioc-ingest-http")


async def serve(settings: Settings, bootstrap: str, *, host: str, port: int, prefix: str = "ioc",
                started: Any = None, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or uvicorn sees a signal); ``started(port)`` once up."""
    import uvicorn

    from archive.run import open_store

    store = open_store(settings)
    producer = kafka_producer(bootstrap)
    await producer.start()
    api = IngestApi(settings, Access(store), producer, prefix=prefix)
    server = uvicorn.Server(uvicorn.Config(api.app(), host=host, port=port, log_level="warning",
                                           ws="none", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        if started is not None:
            started(server.servers[0].sockets[0].getsockname()[1])
        if stop is not None:
            await asyncio.wait([task, asyncio.create_task(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
        await task
    finally:
        await producer.stop()
        store.close()
