"""The demo's people: one account per role and a district operator for Lien Chieu, each with
a fresh password and a one-time sign-in link (what ``ioc demo`` prints once).

An account the database already holds (a demo run on a kept ``IOC_DATABASE_URL``) keeps its
password, role and scope: its row says so (``password`` None), and it still gets a link.

>>> [(p.login, p.role, p.districts) for p in PEOPLE][-1]
('mai', 'operator', 'Lien Chieu')
>>> len(new_password(12)) >= 16
True
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from archive.access import LINK_TTL_S, Access
from archive.accounts import AccountError, Accounts, parse_scope
from archive.store import Store

__all__ = ["PEOPLE", "Person", "Seeded", "new_password", "seed_people"]


@dataclass(frozen=True)
class Person:
    """A demo account to create."""

    login: str
    display_name: str
    role: str
    districts: str = ""


PEOPLE: tuple[Person, ...] = (
    Person("lan", "Lan Nguyen", "operator"),
    Person("hoa", "Hoa Le", "supervisor"),
    Person("minh", "Minh Tran", "leadership"),
    Person("duc", "Duc Vo", "engineer"),
    Person("admin", "IOC Admin", "admin"),
    Person("mai", "Mai Pham", "operator", "Lien Chieu"),
)


@dataclass(frozen=True)
class Seeded:
    """A demo account ready to use: its password (None: the account was there already, its
    password unchanged) and a one-time sign-in token for ``/login/once?t=``."""

    login: str
    display_name: str
    role: str
    scope: str       # ``city`` or the districts
    password: str | None
    link_token: str


def new_password(min_length: int) -> str:
    """A random password of letters and digits, at least 16 characters (and ``min_length``)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(max(16, min_length)))


def seed_people(store: Store, *, min_password_length: int = 12,
                ttl_s: float = LINK_TTL_S) -> list[Seeded]:
    """Migrate ``store``, create the :data:`PEOPLE` it lacks, and give each a one-time link."""
    store.migrate()
    accounts = Accounts(store, min_password_length=min_password_length)
    access = Access(store)
    out = []
    for p in PEOPLE:
        password: str | None = new_password(min_password_length)
        try:
            account = accounts.add(p.login, password or "", display_name=p.display_name,
                                   role=p.role, scope=parse_scope(p.districts, ""))
        except AccountError:
            account, password = accounts.get(p.login), None  # there already: left as it is
        out.append(Seeded(account.login, account.display_name, account.role,
                          ", ".join(account.scope.districts) or account.scope.describe(),
                          password, access.open_link(account.login, ttl_s=ttl_s)))
    return out
