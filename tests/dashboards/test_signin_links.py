"""One-time sign-in links on a running dashboard (``GET /login/once?t=...``): a link signs its
account in once and goes on to the page asked for; a link used, expired, forged or of a
disabled account gets the login page with one message, is counted and audited, and never
tells whether an account exists (issue 12)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from dashkit import accounts_db
from test_signin import Browser, request, start

from archive.access import LINK_TTL_S, Access
from archive.accounts import Accounts
from archive.store import Store
from dashboards.i18n import said
from dashboards.signin import LINK_REFUSED

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return accounts_db(tmp_path, ("lan", "Lan Nguyen", "operator"),
                       ("minh", "Minh Tran", "leadership"),
                       hasher=PasswordHasher(time_cost=1, memory_cost=8192))


def link_of(db_url: str, login: str, **kw: Any) -> str:
    store = Store(db_url)
    try:
        return Access(store).open_link(login, **kw)
    finally:
        store.close()


async def test_a_link_signs_in_once_and_goes_on_to_the_page(start_dashboard: Any,
                                                             db_url: str) -> None:
    d = await start(start_dashboard, db_url)
    token = link_of(db_url, "minh")
    b = Browser(d.url)
    got = await b.go("GET", f"/login/once?t={token}&next=/summary")
    assert got.status == 303 and got.headers["location"] == "/summary"
    assert "HttpOnly" in got.cookies()["ioc_session"]
    page = await b.go("GET", "/summary")
    assert page.status == 200
    me = await b.go("GET", "/api/me")
    assert '"login":"minh"' in me.body and '"display_name":"Minh Tran"' in me.body
    again = await Browser(d.url).go("GET", f"/login/once?t={token}")
    assert again.status == 401 and "ioc_session" not in again.cookies()
    assert "chỉ dùng một lần, trong vòng 15 phút" in again.body  # the default language: vi
    assert d.registry.get_sample_value("ioc_dashboard_sign_ins_total",
                                       {"outcome": "ok", "reason": "ok"}) == 1


async def test_used_expired_forged_and_disabled_links_get_one_refusal(
        start_dashboard: Any, db_url: str) -> None:
    d = await start(start_dashboard, db_url)
    used = link_of(db_url, "lan")
    assert (await Browser(d.url).go("GET", f"/login/once?t={used}")).status == 303
    expired = link_of(db_url, "lan", now=time.time() - LINK_TTL_S - 1)
    disabled = link_of(db_url, "minh")
    store = Store(db_url)
    Accounts(store).disable("minh")
    bodies = set()
    for token in (used, expired, "forged-" + "x" * 40, disabled, ""):
        got = await Browser(d.url).go("GET", f"/login/once?t={token}")
        assert got.status == 401 and "ioc_session" not in got.cookies()
        assert "html" in got.headers["content-type"]
        bodies.add(said(LINK_REFUSED, "vi") in got.body)  # the default language
    assert bodies == {True}
    assert d.registry.get_sample_value("ioc_dashboard_sign_ins_total",
                                       {"outcome": "refused", "reason": "bad_link"}) == 5
    log = Access(store).sign_ins()
    assert [s.reason for s in log].count("bad_link") == 5
    assert {s.login for s in log if s.reason == "bad_link"} >= {"-"}
    store.close()
    after = await asyncio.to_thread(request, d.url, "GET", "/")
    assert after.status == 303 and after.headers["location"].startswith("/login")


async def test_refused_links_count_against_the_address(start_dashboard: Any,
                                                       db_url: str) -> None:
    d = await start(start_dashboard, db_url, login_max_failures_per_address=2)
    b = Browser(d.url)
    for _ in range(2):
        assert (await b.go("GET", "/login/once?t=forged")).status == 401
    good = link_of(db_url, "lan")
    held = await b.go("GET", f"/login/once?t={good}")
    assert held.status == 429 and "Đăng nhập sai quá nhiều lần." in held.body
