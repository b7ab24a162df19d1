"""Accounts, sessions, API keys and the sign-in log on each back end of the archive (SQLite
and a real PostgreSQL): Argon2id hashes, sign-in outcomes, sessions that end at their
expiry, when idle, at sign-out, when the user is disabled or changes password, and keys
stored hashed and revocable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from archive import schema
from archive.access import KEY_PREFIX, Access, digest
from archive.accounts import AccountError, Accounts, Scope, parse_scope
from archive.store import Store
from ioc.errors import UsageError

PASSWORD = "correct horse battery staple"
T = 1_796_000_000.0


@pytest.fixture
def accounts(store: Store) -> Accounts:
    # real Argon2id, with a small memory cost so the suite stays quick on two cores
    return Accounts(store, hasher=PasswordHasher(time_cost=1, memory_cost=8192))


@pytest.fixture
def access(store: Store) -> Access:
    return Access(store, max_age_s=3600.0, idle_s=600.0)


def test_passwords_are_stored_as_argon2id_hashes_only(accounts: Accounts, store: Store) -> None:
    accounts.add("Lan", PASSWORD, display_name="Lan Nguyen", role="operator",
                 scope=parse_scope("Lien Chieu", "flooding"))
    with store.connect() as conn:
        row = conn.execute(sa.select(schema.users)).one()
    assert row.login == "lan" and row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    a = accounts.get("LAN")
    assert (a.display_name, a.role, a.scope) == ("Lan Nguyen", "operator",
                                                 Scope(("Lien Chieu",), ("flooding",)))


def test_sign_in_outcomes_never_differ_in_the_row_returned(accounts: Accounts) -> None:
    accounts.add("lan", PASSWORD, role="operator")
    row, reason = accounts.check("lan", PASSWORD)
    assert row is not None and reason == "ok"
    assert accounts.check("lan", "wrong password here") == (None, "bad_password")
    assert accounts.check("nobody", PASSWORD) == (None, "unknown_user")
    assert accounts.check("-bad login-", PASSWORD) == (None, "bad_input")
    accounts.disable("lan")
    assert accounts.check("lan", PASSWORD) == (None, "disabled")
    accounts.update("lan", enabled=True)
    assert accounts.check("lan", PASSWORD)[1] == "ok"


@pytest.mark.parametrize("call, message", [
    (lambda a: a.add("x", "short"), "too short"),
    (lambda a: a.add("x", PASSWORD, role="root"), "unknown role"),
    (lambda a: a.add("-x", PASSWORD), "login"),
    (lambda a: parse_scope("Atlantis"), "unknown district"),
    (lambda a: parse_scope("", "lava"), "unknown group"),
])
def test_bad_input_is_a_usage_error(accounts: Accounts, call: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call(accounts)  # type: ignore[operator]


def test_a_login_is_unique(accounts: Accounts) -> None:
    accounts.add("lan", PASSWORD)
    with pytest.raises(AccountError, match="taken"):
        accounts.add("LAN", PASSWORD)
    with pytest.raises(AccountError, match="no account"):
        accounts.disable("hoa")


def test_a_session_ends_at_expiry_when_idle_and_at_sign_out(accounts: Accounts,
                                                            access: Access) -> None:
    accounts.add("lan", PASSWORD, display_name="Lan Nguyen",
                 scope=parse_scope("Lien Chieu"))
    row, _ = accounts.check("lan", PASSWORD)
    token = access.open_session(row.id, now=T)
    got = access.session(token, now=T + 300)
    assert got.principal is not None and got.principal.login == "lan"
    assert got.principal.scope.districts == ("Lien Chieu",)
    assert got.principal.session == digest(token)
    assert access.session(token, now=T + 300 + 599).principal is not None  # seen at +300
    assert access.session(token, now=T + 300 + 599 + 600).reason == "idle"
    assert access.session(token, now=T + 3600).reason == "expired"
    assert access.session("forged-" + token, now=T + 1).reason == "unknown"
    assert access.end_session(token) and access.session(token, now=T + 1).reason == "revoked"


def test_disabling_or_a_new_password_ends_sessions_at_once(accounts: Accounts,
                                                           access: Access) -> None:
    accounts.add("lan", PASSWORD)
    row, _ = accounts.check("lan", PASSWORD)
    first, second = access.open_session(row.id, now=T), access.open_session(row.id, now=T)
    accounts.set_password("lan", "another long password")
    assert access.session(first, now=T + 1).reason == "revoked"
    assert not access.session_live(digest(second), now=T + 1)
    third = access.open_session(row.id, now=T)
    accounts.disable("lan")
    assert access.session(third, now=T + 1).reason == "revoked"
    assert accounts.check("lan", "another long password")[1] == "disabled"
    assert access.purge_sessions(now=T + 2) == 3


def test_api_keys_are_stored_hashed_and_revocable(access: Access, store: Store) -> None:
    key, secret = access.add_key("Grafana", "leadership", parse_scope("Hai Chau"), now=T)
    assert secret.startswith(KEY_PREFIX) and key.name == "grafana"
    with store.connect() as conn:
        stored = conn.execute(sa.select(schema.api_keys)).one()
    assert stored.key_hash == digest(secret) and secret not in stored.key_hash
    principal = access.key(secret, now=T + 60)
    assert principal is not None and (principal.kind, principal.role) == ("key", "leadership")
    assert principal.scope.districts == ("Hai Chau",)
    assert principal.audit_user == "leadership:key:grafana"
    assert access.keys()[0].last_used == T + 60
    assert access.key(secret[:-1] + "x") is None and access.key("not-a-key") is None
    with pytest.raises(AccountError, match="exists"):
        access.add_key("grafana", "engineer")
    access.revoke_key("grafana", now=T + 120)
    assert access.key(secret) is None and access.keys()[0].revoked_at == T + 120
    with pytest.raises(AccountError, match="no live API key"):
        access.revoke_key("grafana")


def test_every_sign_in_is_in_the_audit_log(access: Access) -> None:
    access.record_sign_in("lan", "10.0.0.5", "bad_password", now=T)
    access.record_sign_in("lan", "10.0.0.5", "ok", now=T + 1)
    log = access.sign_ins()
    assert [(s.login, s.outcome, s.reason) for s in log] == [
        ("lan", "ok", "ok"), ("lan", "refused", "bad_password")]
    assert log[0].address == "10.0.0.5"
