"""Sign-in on a running dashboard: the login page and its cookies, sessions on the pages, the
API and the websocket, sign-out, throttling, CSRF, oversized bodies, API keys, and refusals
that never tell whether a login exists (issue 12)."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import http.client
import json
import math
import re
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from aiokafka import AIOKafkaConsumer
from dashkit import (
    OPERATOR,
    PASSWORD,
    SETTINGS,
    Producer,
    accounts_db,
    make_alert,
    open_client,
    wait_for,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from archive.access import Access
from archive.accounts import Accounts
from archive.store import Store
from dashboards.feed import Topics
from dashboards.i18n import said
from ioc.events import decode_command

pytestmark = pytest.mark.timeout(120)


def says(key: str, **params: Any) -> str:
    """A sign-in message as the login page writes it for a reader who chose no language."""
    return html.escape(said(key, "vi", params))


@dataclasses.dataclass
class Answer:
    status: int
    headers: Message
    body: str

    def cookies(self) -> dict[str, str]:
        out = {}
        for line in self.headers.get_all("set-cookie") or []:
            name = line.partition("=")[0]
            out[name] = line
        return out

    def cookie(self, name: str) -> str:
        line = self.cookies()[name]
        return line.split(";")[0].partition("=")[2]


def request(base: str, method: str, path: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> Answer:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
    finally:
        conn.close()


class Browser:
    """Just enough of a browser: a cookie jar, the login form, same-origin posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar: dict[str, str] = {}

    async def go(self, method: str, path: str, form: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> Answer:
        h = {"Origin": self.base, **(headers or {})}
        if self.jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        got = await asyncio.to_thread(request, self.base, method, path, body=body, headers=h)
        for name, line in got.cookies().items():
            value = got.cookie(name)
            if value and "Max-Age=0" not in line:
                self.jar[name] = value
            else:
                self.jar.pop(name, None)
        return got

    async def sign_in(self, login: str, password: str, next_path: str = "/") -> Answer:
        page = await self.go("GET", f"/login?next={next_path}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.body)
        assert csrf, page.body
        return await self.go("POST", "/login", {"csrf": csrf.group(1), "login": login,
                                                "password": password, "next": next_path})


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return accounts_db(tmp_path, ("lan", "Lan Nguyen", "operator"),
                       ("minh", "Minh Tran", "leadership", "Lien Chieu"))


async def start(start_dashboard: Any, db_url: str, **settings: Any) -> Any:
    return await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url,
                                                              **settings))


async def test_without_a_session_pages_go_to_the_login_page_and_apis_answer_401(
        start_dashboard: Any) -> None:
    d = await start_dashboard()
    for path in ("/", "/summary", "/reports"):
        got = await asyncio.to_thread(request, d.url, "GET", path)
        assert got.status == 303 and got.headers["location"] == f"/login?next={path}"
    got = await asyncio.to_thread(request, d.url, "GET", "/api/state")
    assert got.status == 401 and "sign in" in got.body
    got = await asyncio.to_thread(request, d.url, "GET", "/api/state",
                                  headers={"Cookie": "ioc_session=forged"})
    assert got.status == 401
    page = await asyncio.to_thread(request, d.url, "GET", "/login")
    assert page.status == 200 and 'action="/login"' in page.body
    assert "form-action 'self'" in page.headers["content-security-policy"]
    csrf = page.cookies()["ioc_csrf"]
    assert "HttpOnly" in csrf and "SameSite=strict" in csrf and "Secure" not in csrf
    ok = await asyncio.to_thread(request, d.url, "GET", "/api/state",
                                 headers={"Authorization": f"Bearer {OPERATOR}"})
    assert ok.status == 200  # the automation tokens still work as bearer keys


async def test_sign_in_the_wall_the_websocket_and_sign_out(
        start_dashboard: Any, db_url: str, producer: Producer, kafka_bootstrap: str,
        topic_names: Topics) -> None:
    alert = make_alert(4)
    await producer.alerts([alert])
    d = await start(start_dashboard, db_url)
    b = Browser(d.url)
    got = await b.sign_in("Lan", PASSWORD, "/summary")
    assert got.status == 303 and got.headers["location"] == "/summary"
    cookie = got.cookies()["ioc_session"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert (await b.go("GET", "/")).status == 200
    me = await b.go("GET", "/api/me")
    assert '"login":"lan"' in me.body and '"display_name":"Lan Nguyen"' in me.body
    csrf = re.search(r'"csrf":"([0-9a-f]+)"', me.body)
    assert csrf

    headers = {"Cookie": f"ioc_session={b.jar['ioc_session']}", "Origin": d.url}
    ws = await connect(d.ws_url, additional_headers=headers, open_timeout=10, max_size=None)
    await ws.send('{"type":"auth"}')
    welcome = await wait_frame(ws, "welcome")
    assert welcome["role"] == "operator" and welcome["user"] == "operator:lan"
    await ws.send(json.dumps({"type": "command", "ref": "a", "action": "ack",
                              "alert_id": alert.alert_id, "name": "Someone Else"}))
    await wait_frame(ws, "accepted")
    command = await first_command(kafka_bootstrap, topic_names.commands)
    assert (command.user, command.display_name) == ("operator:lan", "Lan Nguyen")

    refused = await b.go("POST", "/logout", {"csrf": "wrong"})
    assert refused.status == 403
    out = await b.go("POST", "/logout", {"csrf": csrf.group(1)})
    assert out.status == 303 and out.headers["location"] == "/login?m=signed_out"
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    after = await asyncio.to_thread(request, d.url, "GET", "/", headers=headers)
    assert after.status == 303 and "m=ended" in after.headers["location"]
    assert d.registry.get_sample_value("ioc_dashboard_sign_ins_total",
                                       {"outcome": "ok", "reason": "ok"}) == 1


async def wait_frame(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame.get("type") == kind:
            return frame
        assert frame.get("type") != "error", frame


async def first_command(bootstrap: str, topic: str) -> Any:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    messages = [m for ms in batch.values() for m in ms]
    assert len(messages) == 1
    return decode_command(messages[0].value or b"")


async def test_refusals_are_alike_counted_and_audited(start_dashboard: Any,
                                                      db_url: str) -> None:
    store = Store(db_url)
    Accounts(store).disable("minh")
    d = await start(start_dashboard, db_url)
    answers = []
    for login, password in (("lan", "wrong password 123"), ("nobody", PASSWORD),
                            ("minh", PASSWORD)):
        got = await Browser(d.url).sign_in(login, password)
        answers.append((got.status, "Sai tên đăng nhập hoặc mật khẩu." in got.body,  # vi: default
                        "ioc_session" in got.cookies()))
    assert answers == [(401, True, False)] * 3
    for reason in ("bad_password", "unknown_user", "disabled"):
        assert d.registry.get_sample_value("ioc_dashboard_sign_ins_total",
                                           {"outcome": "refused", "reason": reason}) == 1
    log = Access(store).sign_ins()
    assert sorted(s.reason for s in log) == ["bad_password", "disabled", "unknown_user"]
    assert {s.outcome for s in log} == {"refused"} and log[0].address == "127.0.0.1"
    store.close()


async def test_throttling_per_login_answers_429_with_retry_after(start_dashboard: Any,
                                                                 db_url: str) -> None:
    d = await start(start_dashboard, db_url, login_max_failures=2)
    b = Browser(d.url)
    for _ in range(2):
        assert (await b.sign_in("lan", "wrong password 123")).status == 401
    got = await b.sign_in("lan", PASSWORD)  # the right password: refused all the same
    assert got.status == 429
    assert 0 < int(got.headers["retry-after"]) <= SETTINGS.login_throttle_s
    minutes = math.ceil(int(got.headers["retry-after"]) / 60)
    key = "login.msg.throttled" if minutes > 1 else "login.msg.throttled_one"
    assert says(key, minutes=minutes) in got.body  # in the city's language, with the wait
    assert (await b.sign_in("minh", PASSWORD)).status == 303  # another login is not held
    assert d.registry.get_sample_value("ioc_dashboard_sign_ins_total",
                                       {"outcome": "refused", "reason": "throttled"}) == 1


async def test_forged_forms_and_oversized_bodies_are_refused(start_dashboard: Any,
                                                             db_url: str) -> None:
    d = await start(start_dashboard, db_url)
    b = Browser(d.url)
    await b.go("GET", "/login")
    no_token = await b.go("POST", "/login", {"login": "lan", "password": PASSWORD})
    assert no_token.status == 403 and "ioc_session" not in no_token.cookies()
    assert says("login.msg.expired") in no_token.body
    foreign = await b.go("POST", "/login", {"csrf": b.jar["ioc_csrf"], "login": "lan",
                                            "password": PASSWORD},
                         headers={"Origin": "http://evil.example"})
    assert foreign.status == 403 and says("login.msg.csrf") in foreign.body
    big = await b.go("POST", "/login", {"csrf": b.jar["ioc_csrf"], "login": "lan",
                                        "password": "x" * 5000})
    assert big.status == 413 and says("login.msg.too_big") in big.body


async def test_api_keys_work_as_bearer_tokens_until_revoked(start_dashboard: Any,
                                                            db_url: str) -> None:
    store = Store(db_url)
    access = Access(store)
    _, secret = access.add_key("grafana", "leadership")
    d = await start(start_dashboard, db_url)
    auth = {"Authorization": f"Bearer {secret}"}
    assert (await asyncio.to_thread(request, d.url, "GET", "/api/summary",
                                    headers=auth)).status == 200
    c = await open_client(d, secret)
    welcome = await c.until("welcome")
    assert (welcome["role"], welcome["user"]) == ("leadership", "leadership:key:grafana")
    await c.close()
    access.revoke_key("grafana")
    got = await asyncio.to_thread(request, d.url, "GET", "/api/summary", headers=auth)
    assert got.status == 401 and "revoked" in got.body
    store.close()


async def test_disabling_a_user_closes_their_websocket(start_dashboard: Any,
                                                       db_url: str) -> None:
    d = await start(start_dashboard, db_url)
    b = Browser(d.url)
    assert (await b.sign_in("lan", PASSWORD)).status == 303
    headers = {"Cookie": f"ioc_session={b.jar['ioc_session']}", "Origin": d.url}
    ws = await connect(d.ws_url, additional_headers=headers, open_timeout=10, max_size=None)
    await ws.send('{"type":"auth"}')
    await wait_frame(ws, "welcome")
    store = Store(db_url)
    Accounts(store).disable("lan")
    store.close()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await wait_for(lambda: not d.live.sessions, 5, "the session to be gone")
