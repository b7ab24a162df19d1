"""Every role signs in with a browser (Chromium), and disabling a person ends their open wall
at once (issue 12): the server closes the websocket and the page goes back to the login page."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from dashkit import PASSWORD, SETTINGS, accounts_db
from test_browser import browser, open_tab, sign_in  # noqa: F401  (the fixture)

from archive.accounts import Accounts
from archive.store import Store

pytestmark = pytest.mark.timeout(180)
PEOPLE = {"hoa": "supervisor", "minh": "leadership", "duc": "engineer", "root": "admin",
          "lan": "operator"}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return accounts_db(tmp_path, *((login, login.title(), role)
                                   for login, role in PEOPLE.items()))


async def test_each_role_signs_in_and_the_wall_knows_it(
        browser: Any, start_dashboard: Any, db_url: str) -> None:  # noqa: F811
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))
    for login, role in PEOPLE.items():
        tab = await open_tab(browser, "about:blank")  # a context of its own: no cookies
        try:
            await sign_in(tab, d.url, login)
            assert await tab.data("role") == role, login
            assert f"{login.title()} · {role}" in await tab.page.inner_text("#account-name")
            assert tab.errors == [], (login, tab.errors)
        finally:
            await tab.page.context.close()


async def test_disabling_a_person_ends_their_open_wall(
        browser: Any, start_dashboard: Any, db_url: str) -> None:  # noqa: F811
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))
    tab = await open_tab(browser, "about:blank")
    await sign_in(tab, d.url, "lan")
    store = Store(db_url)
    try:
        Accounts(store).disable("lan")
    finally:
        store.close()
    # the server checks open sessions every few seconds, closes the websocket, and the wall
    # goes back to the login page; signing in again is refused
    await tab.page.wait_for_url(f"{d.url}/login?m=ended&next=%2F", timeout=20000)
    await tab.page.fill("#login-name", "lan")
    await tab.page.fill("#login-password", PASSWORD)
    await tab.page.click("#login-submit")
    await tab.page.wait_for_selector("#login-message:not([hidden])", timeout=10000)
    assert tab.page.url.startswith(f"{d.url}/login")
