"""One-time sign-in links on each back end of the archive: a token stored only hashed that
signs its user in once, within 15 minutes, never for a disabled user, and never for a token
that was not made (forged)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from archive import schema
from archive.access import LINK_TTL_S, Access, digest
from archive.accounts import AccountError, Accounts
from archive.store import Store

PASSWORD = "correct horse battery staple"
T = 1_796_000_000.0


@pytest.fixture
def access(store: Store) -> Access:
    Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8192)).add(
        "lan", PASSWORD, display_name="Lan Nguyen", role="operator")
    return Access(store)


def test_a_link_signs_its_user_in_once_and_is_stored_hashed(access: Access,
                                                            store: Store) -> None:
    token = access.open_link("lan", now=T)
    with store.connect() as conn:
        row = conn.execute(sa.select(schema.sign_in_links)).one()
    assert row.token_hash == digest(token) and token not in row.token_hash
    used = access.use_link(token, now=T + 10)
    assert used.user_id is not None and (used.login, used.reason) == ("lan", "ok")
    assert access.use_link(token, now=T + 11).reason == "used"
    assert access.use_link(token, now=T + 11).user_id is None


def test_a_link_expires_fifteen_minutes_after_it_was_made(access: Access) -> None:
    assert LINK_TTL_S == 900.0
    late = access.open_link("lan", now=T)
    assert access.use_link(late, now=T + LINK_TTL_S) == access.use_link(late, now=T + 901)
    assert access.use_link(late, now=T + LINK_TTL_S).reason == "expired"
    in_time = access.open_link("lan", now=T)
    assert access.use_link(in_time, now=T + LINK_TTL_S - 1).reason == "ok"


@pytest.mark.parametrize("token", ["", "forged-token", "x" * 500, None])
def test_forged_or_malformed_tokens_sign_no_one_in(access: Access, token: str | None) -> None:
    access.open_link("lan", now=T)
    check = access.use_link(token, now=T + 1)
    assert (check.user_id, check.login, check.reason) == (None, None, "unknown")


def test_a_disabled_user_cannot_use_a_link_made_before(access: Access, store: Store) -> None:
    token = access.open_link("lan", now=T)
    Accounts(store).disable("lan")
    check = access.use_link(token, now=T + 1)
    assert (check.user_id, check.reason) == (None, "disabled")


def test_links_only_for_existing_accounts_and_purged_once_spent(access: Access) -> None:
    with pytest.raises(AccountError, match="no account 'nobody'"):
        access.open_link("nobody", now=T)
    spent, live = (access.open_link("lan", now=T) for _ in range(2))
    access.use_link(spent, now=T + 1)
    access.open_link("lan", now=T - LINK_TTL_S)   # already expired
    assert access.purge_links(now=T + 2) == 2
    assert access.use_link(live, now=T + 3).reason == "ok"
