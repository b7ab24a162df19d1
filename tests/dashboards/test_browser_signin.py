"""Signing in with a browser (Chromium): an operator signs in on the login page, sees the
live wall with their name, signs out, and the session is over; a wrong password shows the
refusal; a shared-token link still opens the wall (issue 12)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from dashkit import SETTINGS, accounts_db
from test_browser import browser, open_tab, sign_in  # noqa: F401  (the fixture)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return accounts_db(tmp_path, ("lan", "Lan Nguyen", "operator"))


async def test_an_operator_signs_in_and_sees_the_wall(
        browser: Any, start_dashboard: Any, db_url: str) -> None:  # noqa: F811
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))
    tab = await open_tab(browser, "about:blank")
    await sign_in(tab, d.url, "lan")  # the wall without a session: the login page first
    assert "Lan Nguyen" in await tab.page.inner_text("#account-name")
    assert await tab.data("role") == "operator"
    cookies = await tab.page.context.cookies()
    session = next(c for c in cookies if c["name"] == "ioc_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    await tab.shot("wall-signed-in.png")
    # signing out ends the session: back on the login page, and the wall asks again
    await tab.page.click("#btn-signout")
    await tab.page.wait_for_url(f"{d.url}/login?m=signed_out")
    await tab.page.goto(f"{d.url}/")
    await tab.page.wait_for_url(f"{d.url}/login?next=/")
    assert tab.errors == []


async def test_the_header_names_the_person_and_role_in_the_readers_language(
        browser: Any, start_dashboard: Any, db_url: str) -> None:  # noqa: F811
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))
    for lang, says in (("vi", "Lan Nguyen · vận hành viên"), ("en", "Lan Nguyen · operator")):
        tab = await open_tab(browser, "about:blank", lang=lang)
        try:
            await sign_in(tab, d.url, "lan")
            assert await tab.page.inner_text("#account-name") == says
            assert tab.errors == []
        finally:
            await tab.page.context.close()


async def test_a_wrong_password_shows_the_refusal(
        browser: Any, start_dashboard: Any, db_url: str) -> None:  # noqa: F811
    d = await start_dashboard(settings=dataclasses.replace(SETTINGS, database_url=db_url))
    tab = await open_tab(browser, f"{d.url}/login")
    await tab.page.fill("#login-name", "lan")
    await tab.page.fill("#login-password", "not the password")
    await tab.page.click("#login-submit")
    await tab.page.wait_for_selector("#login-message:not([hidden])")
    assert "Wrong login or password." in await tab.page.inner_text("#login-message")
    assert "/login" in tab.page.url
    assert not [c for c in await tab.page.context.cookies() if c["name"] == "ioc_session"]
    await tab.shot("login-refused.png")
    assert tab.errors == []
