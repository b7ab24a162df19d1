"""Accounts' contact details and notification preferences (``user_contacts``, beside the
``users`` table of :mod:`archive.accounts`): set by ``ioc users add/set --email --phone
--channels --min-severity --quiet-hours --lang``, read by the notifier as
:class:`~notify.people.Contact` s (with the account's scope and whether it is disabled).
"""

from __future__ import annotations

import re
import time
from typing import Any

import sqlalchemy as sa

from archive import schema
from archive.accounts import AccountError, check_login, scope_of
from archive.store import Store
from ioc.errors import UsageError
from ioc.events import SEVERITIES
from notify.config import CHANNELS
from notify.config_parts import LANGUAGES
from notify.items import parse_hours
from notify.people import Contact

__all__ = ["Contacts", "check_contact"]

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
_PHONE = re.compile(r"\+?[0-9]{6,15}")


def check_contact(*, email: str | None = None, phone: str | None = None,
                  channels: str | None = None, min_severity: str | None = None,
                  quiet_hours: str | None = None, language: str | None = None
                  ) -> dict[str, Any]:
    """The given fields checked (UsageError naming the option); ``""`` clears one.

    >>> check_contact(email="lan@example.org", quiet_hours="22:00-06:00")
    {'email': 'lan@example.org', 'quiet_hours': '22:00-06:00'}
    >>> check_contact(phone="call me")
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: --phone: expected digits with an optional +, got 'callme'
    """
    out: dict[str, Any] = {}
    if email is not None:
        if email and not _EMAIL.fullmatch(email):
            raise UsageError(f"--email: not an email address: {email[:80]!r}")
        out["email"] = email or None
    if phone is not None:
        phone = phone.replace(" ", "")
        if phone and not _PHONE.fullmatch(phone):
            raise UsageError(f"--phone: expected digits with an optional +, got {phone[:40]!r}")
        out["phone"] = phone or None
    if channels is not None:
        names = [c.strip() for c in channels.split(",") if c.strip()]
        for c in names:
            if c not in CHANNELS:
                raise UsageError(f"--channels: unknown channel {c!r} (known: email, sms, "
                                 "webhook)")
        out["channels"] = ",".join(names)
    if min_severity is not None:
        if min_severity not in SEVERITIES:
            raise UsageError(f"--min-severity: one of {', '.join(SEVERITIES)}")
        out["min_severity"] = min_severity
    if quiet_hours is not None:
        if quiet_hours:
            try:
                parse_hours(quiet_hours)
            except ValueError as exc:
                raise UsageError(f"--quiet-hours: {exc}") from None
        out["quiet_hours"] = quiet_hours
    if language is not None:
        if language not in LANGUAGES:
            raise UsageError("--lang: vi or en")
        out["language"] = language
    return out


class Contacts:
    """The ``user_contacts`` table of ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def set(self, login: str, *, quiet_critical: bool | None = None, **fields: Any) -> Contact:
        """Change an account's contact fields (those given; see :func:`check_contact`)."""
        values = check_contact(**fields)
        if quiet_critical is not None:
            values["quiet_critical"] = quiet_critical
        u, c = schema.users, schema.user_contacts
        with self.store.engine.begin() as conn:
            user_id = conn.execute(sa.select(u.c.id).where(u.c.login == check_login(login))
                                   ).scalar()
            if user_id is None:
                raise AccountError(f"no account {login!r}")
            row: dict[str, Any] = {"email": None, "phone": None, "channels": "",
                                   "min_severity": "info", "quiet_hours": "",
                                   "quiet_critical": True, "language": "vi"}
            held = conn.execute(sa.select(c).where(c.c.user_id == user_id)).first()
            if held is not None:
                row.update({k: getattr(held, k) for k in row})
            row.update(values, updated_at=time.time())
            if held is None:
                conn.execute(c.insert().values(user_id=user_id, **row))
            else:
                conn.execute(c.update().where(c.c.user_id == user_id).values(**row))
        return self.all()[check_login(login)]

    def all(self) -> dict[str, Contact]:
        """Every account's :class:`Contact` by login (accounts without contact details get
        the defaults: no address)."""
        u, c = schema.users, schema.user_contacts
        q = sa.select(u.c.login, u.c.display_name, u.c.districts, u.c.groups, u.c.disabled,
                      c.c.email, c.c.phone, c.c.channels, c.c.min_severity, c.c.quiet_hours,
                      c.c.quiet_critical, c.c.language).select_from(
            u.outerjoin(c, c.c.user_id == u.c.id))
        with self.store.connect() as conn:
            return {r.login: Contact(
                login=r.login, display_name=r.display_name, email=r.email, phone=r.phone,
                channels=tuple(x for x in (r.channels or "").split(",") if x),
                min_severity=r.min_severity or "info",
                quiet=parse_hours(r.quiet_hours) if r.quiet_hours else None,
                quiet_critical=True if r.quiet_critical is None else bool(r.quiet_critical),
                language=r.language or "vi", scope=scope_of(r), disabled=bool(r.disabled))
                for r in conn.execute(q)}

    def describe(self, login: str) -> str:
        """One line for ``ioc users``: the account's addresses and preferences."""
        c = self.all().get(check_login(login))
        if c is None:
            raise AccountError(f"no account {login!r}")
        quiet = f"quiet {c.quiet}{'' if c.quiet_critical else ' (critical too)'}" \
            if c.quiet else "no quiet hours"
        return (f"email {c.email or '-'}, phone {c.phone or '-'}, channels "
                f"{','.join(c.channels) or 'all'}, from {c.min_severity}, {quiet}, "
                f"{c.language}")
