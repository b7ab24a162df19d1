"""Personal accounts: who may sign in, with which role and scope, and their password hashes.

The rules are pure (:func:`check_login`, :func:`check_password`, :func:`parse_scope`,
:func:`check_role`); :class:`Accounts` keeps the ``users`` table of the archive (SQLite or
PostgreSQL). Passwords are hashed with Argon2id (``argon2-cffi``) and never logged or stored
in clear. Disabling a user or changing their password ends their sign-in sessions at once
(:mod:`archive.access` keeps those).

Whoever is signed in, by session, API key or automation token, is a :class:`Principal`: the
server reads ``role`` and ``scope`` from it, never from what a client says.

>>> scope = parse_scope("Lien Chieu", "")
>>> scope.districts, scope.groups, scope.city_wide
(('Lien Chieu',), (), False)
>>> scope.allows(district="Lien Chieu", group="flooding"), scope.allows(district="Hai Chau")
(True, False)
>>> parse_scope("Atlantis", "")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ioc.errors.UsageError: unknown district 'Atlantis' (known: Hai Chau, ...)
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection

from archive import schema
from archive.store import Store
from ioc import catalog
from ioc.errors import IocError, UsageError

__all__ = ["KEY_ROLES", "ROLES", "Account", "AccountError", "Accounts", "Principal", "Scope",
           "check_key_role", "check_login", "check_password", "check_role", "parse_scope"]

log = logging.getLogger("ioc.accounts")

ROLES: tuple[str, ...] = ("operator", "supervisor", "leadership", "engineer", "admin")
KEY_ROLES: tuple[str, ...] = (*ROLES, "ingest")  # `ingest`: API keys that post readings only
MAX_PASSWORD = 1024  # longer is refused (hashing megabytes is a denial of service)
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class AccountError(IocError):
    """An account operation that cannot be done: an unknown or duplicate login."""


def check_login(login: str) -> str:
    """The login, lower-cased; UsageError unless 1-64 of ``a-z 0-9 . _ @ -`` starting with
    a letter or digit.

    >>> check_login("Lan.Nguyen")
    'lan.nguyen'
    >>> check_login("-x")
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: login '-x': use 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit
    """
    lowered = login.strip().lower()
    if not _LOGIN.fullmatch(lowered):
        raise UsageError(f"login {login[:70]!r}: use 1-64 of a-z 0-9 . _ @ -, starting with a "
                         "letter or digit")
    return lowered


def check_role(role: str) -> str:
    """The role, or UsageError naming the roles.

    >>> check_role("root")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: unknown role 'root' (roles: operator, supervisor, leadership, ...)
    """
    if role not in ROLES:
        raise UsageError(f"unknown role {role[:40]!r} (roles: {', '.join(ROLES)})")
    return role


def check_key_role(role: str) -> str:
    """An API key's role: a person's role, or ``ingest`` (posts readings to ``ioc ingest
    http``, nothing else); UsageError naming them.

    >>> check_key_role("ingest")
    'ingest'
    """
    if role not in KEY_ROLES:
        raise UsageError(f"unknown role {role[:40]!r} (roles: {', '.join(KEY_ROLES)})")
    return role


def check_password(password: str, min_length: int) -> None:
    """UsageError unless the password has ``min_length`` to 1024 characters and is not blank
    (the message never repeats the password).

    >>> check_password("short", 12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: the password is too short: use at least 12 characters ...
    """
    if len(password) < min_length:
        raise UsageError(f"the password is too short: use at least {min_length} characters "
                         "(IOC_PASSWORD_MIN_LENGTH)")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"the password is too long: use at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise UsageError("the password is blank")


@dataclass(frozen=True)
class Scope:
    """The districts and service groups a principal works on; both empty: the whole city."""

    districts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def city_wide(self) -> bool:
        return not self.districts and not self.groups

    def allows(self, *, district: str | None = None, group: str | None = None) -> bool:
        """Whether something in ``district`` and ``group`` (None: not applicable) is within
        this scope."""
        return ((not self.districts or district is None or district in self.districts)
                and (not self.groups or group is None or group in self.groups))

    def describe(self) -> str:
        """``city`` or the districts and groups, for listings.

        >>> Scope(("Hai Chau",), ("flooding",)).describe(), Scope().describe()
        ('districts=Hai Chau; groups=flooding', 'city')
        """
        if self.city_wide:
            return "city"
        parts = [f"districts={','.join(self.districts)}"] if self.districts else []
        return "; ".join(parts + ([f"groups={','.join(self.groups)}"] if self.groups else []))


def _names(raw: str | Iterable[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [n.strip() for n in items if n.strip()]


def parse_scope(districts: str | Iterable[str] = "", groups: str | Iterable[str] = "") -> Scope:
    """A :class:`Scope` from comma-separated (or listed) district names and group slugs,
    checked against the catalog (UsageError naming the unknown one)."""
    ds, gs = _names(districts), _names(groups)
    for name in ds:
        if name not in catalog.DISTRICT_NAMES:
            raise UsageError(f"unknown district {name[:60]!r} (known: "
                             f"{', '.join(d.name for d in catalog.DISTRICTS)})")
    for slug in gs:
        if slug not in catalog.GROUPS:
            raise UsageError(f"unknown group {slug[:60]!r} (known: "
                             f"{', '.join(catalog.GROUP_SLUGS)})")
    return Scope(tuple(dict.fromkeys(ds)), tuple(dict.fromkeys(gs)))


def scope_of(row: Any) -> Scope:
    """The scope stored in a ``users`` or ``api_keys`` row."""
    return Scope(tuple(_names(row.districts)), tuple(_names(row.groups)))


@dataclass(frozen=True)
class Principal:
    """Who a request or a websocket acts as. ``kind``: ``user`` (a signed-in person),
    ``key`` (an API key) or ``token`` (an ``IOC_*_TOKEN`` automation key); ``session``: the
    hashed session token of a signed-in user (None otherwise)."""

    kind: Literal["user", "key", "token"]
    login: str
    display_name: str
    role: str
    scope: Scope = field(default_factory=Scope)
    session: str | None = None

    @property
    def audit_user(self) -> str:
        """The ``user`` recorded on this principal's commands: ``role:login`` (the role first,
        so the worker reads the role from it as from every older record); an automation
        token's login already is (``operator`` or ``operator:<label>``).

        >>> Principal("user", "lan", "Lan Nguyen", "operator").audit_user
        'operator:lan'
        >>> Principal("token", "operator:north-desk", "operator", "operator").audit_user
        'operator:north-desk'
        """
        return self.login if self.kind == "token" else f"{self.role}:{self.login}"


@dataclass(frozen=True)
class Account:
    """A user as listed (never with the hash)."""

    login: str
    display_name: str
    role: str
    scope: Scope
    disabled: bool
    created_at: float
    updated_at: float


def _account(row: Any) -> Account:
    return Account(row.login, row.display_name, row.role, scope_of(row), bool(row.disabled),
                   row.created_at, row.updated_at)


SignInOutcome = tuple[Any | None, str]  # the users row (None: refused) and the reason


class Accounts:
    """The ``users`` table of ``store``. ``hasher`` is an Argon2id
    :class:`~argon2.PasswordHasher` (default: argon2-cffi's RFC 9106 low-memory profile)."""

    def __init__(self, store: Store, *, min_password_length: int = 12,
                 hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.min_password_length = min_password_length
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    # --- changing accounts ---------------------------------------------------------------
    def add(self, login: str, password: str, *, display_name: str = "", role: str = "operator",
            scope: Scope | None = None, now: float | None = None) -> Account:
        """Create a user; UsageError for a bad login, role or password, AccountError when
        the login is taken."""
        login = check_login(login)
        check_role(role)
        check_password(password, self.min_password_length)
        ts = time.time() if now is None else now
        row = {"login": login, "display_name": _display(display_name, login), "role": role,
               "districts": ",".join((scope or Scope()).districts),
               "groups": ",".join((scope or Scope()).groups),
               "password_hash": self.hasher.hash(password), "disabled": False,
               "created_at": ts, "updated_at": ts}
        try:
            with self.store.engine.begin() as conn:
                conn.execute(schema.users.insert().values(**row))
        except sa.exc.IntegrityError:
            raise AccountError(f"the login {login!r} is taken") from None
        log.info("account %s added (role %s)", login, role)
        return self.get(login)

    def update(self, login: str, *, display_name: str | None = None, role: str | None = None,
               scope: Scope | None = None, enabled: bool | None = None,
               now: float | None = None) -> Account:
        """Change what is given; disabling ends the user's sessions in the same
        transaction."""
        values: dict[str, Any] = {"updated_at": time.time() if now is None else now}
        if display_name is not None:
            values["display_name"] = _display(display_name, login)
        if role is not None:
            values["role"] = check_role(role)
        if scope is not None:
            values["districts"], values["groups"] = ",".join(scope.districts), \
                ",".join(scope.groups)
        if enabled is not None:
            values["disabled"] = not enabled
        self._change(login, values, end_sessions=enabled is False)
        return self.get(login)

    def disable(self, login: str) -> Account:
        """Disable a user: they cannot sign in, and their sessions end at once."""
        return self.update(login, enabled=False)

    def set_password(self, login: str, password: str) -> None:
        """Replace a user's password; their sessions end at once."""
        check_password(password, self.min_password_length)
        self._change(login, {"password_hash": self.hasher.hash(password),
                             "updated_at": time.time()}, end_sessions=True)
        log.info("account %s: password changed, sessions ended", check_login(login))

    def _change(self, login: str, values: dict[str, Any], *, end_sessions: bool) -> None:
        login = check_login(login)
        u = schema.users
        with self.store.engine.begin() as conn:
            user_id = conn.execute(sa.select(u.c.id).where(u.c.login == login)).scalar()
            if user_id is None:
                raise AccountError(f"no account {login!r}")
            conn.execute(u.update().where(u.c.id == user_id).values(**values))
            if end_sessions:
                end_sessions_of(conn, user_id)

    # --- reading -------------------------------------------------------------------------
    def get(self, login: str) -> Account:
        """The account of ``login``; AccountError when there is none."""
        u = schema.users
        with self.store.connect() as conn:
            row = conn.execute(sa.select(u).where(u.c.login == check_login(login))).first()
        if row is None:
            raise AccountError(f"no account {login!r}")
        return _account(row)

    def list(self) -> list[Account]:
        """Every account, by login."""
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(schema.users).order_by(schema.users.c.login))
            return [_account(r) for r in rows]

    # --- signing in ----------------------------------------------------------------------
    def check(self, login: str, password: str) -> SignInOutcome:
        """The ``users`` row when ``password`` is right and the account enabled, else None
        and why (``unknown_user``, ``bad_password``, ``disabled``, ``bad_input``). A password
        is verified in every case (against a fixed hash when there is no such user), so the
        time taken does not tell whether the user exists."""
        try:
            login = check_login(login)
        except UsageError:
            self._verify(self._dummy_hash(), password)
            return None, "bad_input"
        if len(password) > MAX_PASSWORD:
            return None, "bad_input"
        u = schema.users
        with self.store.connect() as conn:
            row = conn.execute(sa.select(u).where(u.c.login == login)).first()
        if row is None:
            self._verify(self._dummy_hash(), password)
            return None, "unknown_user"
        if not self._verify(row.password_hash, password):
            return None, "bad_password"
        if row.disabled:
            return None, "disabled"
        if self._needs_rehash(row.password_hash):
            with self.store.engine.begin() as conn:
                conn.execute(u.update().where(u.c.id == row.id).values(
                    password_hash=self.hasher.hash(password)))
        return row, "ok"

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(hashed, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _needs_rehash(self, hashed: str) -> bool:
        try:
            return bool(self.hasher.check_needs_rehash(hashed))
        except InvalidHashError:
            return False

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash("no account has this password")
        return self._dummy


def _display(name: str, login: str) -> str:
    """The display name (the login when empty); UsageError when unprintable or too long."""
    name = name.strip() or login
    if len(name) > 128 or not name.isprintable():
        raise UsageError("the display name must be 1-128 printable characters")
    return name


def end_sessions_of(conn: Connection, user_id: int) -> int:
    """Revoke every live session of a user (in the caller's transaction)."""
    s = schema.web_sessions
    return int(conn.execute(s.update().where((s.c.user_id == user_id) & ~s.c.revoked)
                            .values(revoked=True)).rowcount)
