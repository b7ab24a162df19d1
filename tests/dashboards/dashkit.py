"""Helpers for the dashboard tests: records, a producer, and a small websocket client that
speaks the protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import ClientConnection, connect

from dashboards.feed import Topics
from dashboards.server import Dashboard
from ioc.events import Alert, Evidence, GroupIndicator, Incident, WindowSummary, encode
from ioc.settings import Settings

T0 = 1_795_410_000.0
OPERATOR = "operator-token-0001"
LEADERSHIP = "leadership-token-0002"
ENGINEER = "engineer-token-0003"
SETTINGS = Settings(operator_token=OPERATOR, leadership_token=LEADERSHIP,
                    engineer_token=ENGINEER)
TOKENS = {"operator": OPERATOR, "leadership": LEADERSHIP, "engineer": ENGINEER}


def evidence(value: float = 42.0) -> Evidence:
    return Evidence(window_start=T0 - 60, window_end=T0, value=value, baseline=10.0,
                    threshold=30.0, score=0.95, raw=5.1, detector="robust_z",
                    detector_version="1", params={"k": 3}, recent=[10.0, 11.0, value])


def make_alert(n: int = 1, *, version: int = 1, status: str = "firing",
               severity: str = "major", group: str = "flooding", district: str = "Hai Chau",
               detector: str = "robust_z", category: str = "city", change: str = "opened",
               first_seen: float = T0, updated_at: float | None = None,
               title: str = "") -> Alert:
    source = f"rain-{n:04d}"
    metric = "rainfall"
    return Alert(alert_id=f"{detector}:{group}:{source}:{metric}", version=version,
                 status=status, severity=severity, category=category,  # type: ignore[arg-type]
                 group=group, district=district, source=source, metric=metric,
                 detector=detector, title=title or f"alert {n}", first_seen=first_seen,
                 last_seen=updated_at or first_seen, count=version,
                 updated_at=updated_at or first_seen, change=change, evidence=evidence())


def make_indicator(group: str = "flooding", district: str = "Hai Chau", end: float = T0,
                   kpis: dict[str, float] | None = None, breach: int = 0) -> GroupIndicator:
    return GroupIndicator(group=group, district=district, start=end - 60, end=end,
                          sources_reporting=6, sources_expected=6, sources_in_breach=breach,
                          open_alerts={}, kpis=kpis if kpis is not None else
                          {"max_depth": 3.0, "flooded_points": float(breach)})


def make_window(source: str = "rain-HC-01", end: float = T0, mean: float = 5.0
                ) -> WindowSummary:
    return WindowSummary(group="flooding", source=source, metric="rainfall",
                         district="Hai Chau", start=end - 60, end=end, count=6, mean=mean,
                         min=mean, max=mean, last=mean, std=0.0)


def make_incident(n: int = 1, *, version: int = 1, status: str = "open",
                  severity: str = "major") -> Incident:
    return Incident(incident_id=f"inc:Hai Chau:{n}", version=version,
                    status=status,  # type: ignore[arg-type]
                    district="Hai Chau", groups=["flooding", "traffic"],
                    alert_ids=["a", "b"], severity=severity,  # type: ignore[arg-type]
                    title="flood and traffic", first_seen=T0, last_seen=T0, updated_at=T0)


class Producer:
    """Writes records to the test's topics the way the workers do (key = district/group)."""

    def __init__(self, bootstrap: str, names: Topics) -> None:
        self.names = names
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)

    async def alerts(self, records: Iterable[Alert | Incident]) -> None:
        for r in records:
            await self.producer.send(self.names.alerts, encode(r), key=r.district.encode())
        await self.producer.flush()

    async def indicators(self, records: Iterable[GroupIndicator | WindowSummary]) -> None:
        """Send indicators one by one and window summaries in one pack, as a worker does."""
        pack: list[WindowSummary] = []
        for r in records:
            if isinstance(r, WindowSummary):
                pack.append(r)
            else:
                await self.producer.send(self.names.indicators, encode(r), key=r.group.encode())
        if pack:
            await self.producer.send(self.names.indicators, encode(pack),
                                     key=pack[0].group.encode())
        await self.producer.flush()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class WsClient:
    """A protocol client over a real websockets connection."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, obj: dict[str, Any] | str) -> None:
        await self.ws.send(obj if isinstance(obj, str) else json.dumps(obj))

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        obj: dict[str, Any] = msgspec.json.decode(raw)
        self.frames.append(obj)
        return obj

    async def until(self, kind: str, timeout: float = 10.0,
                    where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """Receive until a frame of ``type`` kind (matching ``where``) arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {kind!r} frame within {timeout} s; got "
                                     f"{[f.get('type') for f in self.frames[-10:]]}")
            frame = await self.recv(left)
            if frame.get("type") == kind and (where is None or where(frame)):
                return frame

    async def close(self) -> None:
        await self.ws.close()


async def open_client(dashboard: Dashboard, token: str | None = None, *,
                      send_auth: bool = True, headers: dict[str, str] | None = None,
                      **auth: Any) -> WsClient:
    """Connect to ``/ws``; authenticate with ``token`` in the first message."""
    ws = await connect(dashboard.ws_url, additional_headers=headers, open_timeout=10,
                       max_size=None)
    client = WsClient(ws)
    if send_auth:
        await client.send({"type": "auth", "token": token, **auth})
    return client


# --- personal accounts (issue 12) ------------------------------------------------------------
PASSWORD = "correct horse battery staple"


def accounts_db(tmp_path: Path, *people: tuple[str, str, str] | tuple[str, str, str, str],
                hasher: Any = None) -> str:
    """A fresh SQLite archive holding ``people`` as accounts, each (login, display name,
    role[, districts of its scope]) with :data:`PASSWORD`; returns its URL."""
    from archive.accounts import Accounts, parse_scope
    from archive.store import Store

    url = f"sqlite:///{tmp_path / 'archive.db'}"
    store = Store(url)
    try:
        store.migrate()
        accounts = Accounts(store) if hasher is None else Accounts(store, hasher=hasher)
        for login, name, role, *scope in people:
            accounts.add(login, PASSWORD, display_name=name, role=role,
                         **({"scope": parse_scope(scope[0])} if scope else {}))
    finally:
        store.close()
    return url
