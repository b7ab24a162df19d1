"""Receivers expanded into deliveries: an account's contact details and preferences
(channels, minimum severity, scope, quiet hours) or a receiver's plain addresses. Pure: the
contact details are read elsewhere (:mod:`notify.contacts`).

>>> from notify.config import Receiver
>>> lan = Contact(login="lan", email="lan@example.org", phone="+84905000001",
...               min_severity="major", quiet=parse_hours("22:00-06:00"))
>>> desk = Receiver("lan", account="lan")
>>> noon, night = 1795410000.0, 1795410000.0 + 12 * 3600   # 12:00 and 00:00 in Da Nang
>>> [(d.channel, d.address) for d in expand(desk, lan, severity="major", district="Hai Chau",
...                                        groups=["flooding"], now=noon).deliveries]
[('email', 'lan@example.org'), ('sms', '+84905000001')]
>>> expand(desk, lan, severity="major", district="Hai Chau", groups=["flooding"],
...        now=night).suppressed
['quiet_hours']
>>> len(expand(desk, lan, severity="critical", district="Hai Chau", groups=["flooding"],
...            now=night).deliveries)   # critical comes through quiet hours
2
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from archive.accounts import Scope
from notify.config import CHANNELS, Receiver
from notify.items import Hours, minute_of_day, parse_hours, severity_rank

__all__ = ["Contact", "Delivery", "Expansion", "expand", "parse_hours"]


@dataclass(frozen=True)
class Contact:
    """An account's contact details and notification preferences."""

    login: str
    display_name: str = ""
    email: str | None = None
    phone: str | None = None
    channels: tuple[str, ...] = ()      # empty: every channel it has an address for
    min_severity: str = "info"
    quiet: Hours | None = None
    quiet_critical: bool = True          # critical still comes in quiet hours
    language: str = "vi"
    scope: Scope = field(default_factory=Scope)
    disabled: bool = False


@dataclass(frozen=True)
class Delivery:
    receiver: str
    channel: str
    address: str
    language: str


@dataclass(frozen=True)
class Expansion:
    deliveries: list[Delivery]
    suppressed: list[str]  # why nothing went: quiet_hours, severity, scope, disabled, no_account


def expand(receiver: Receiver, contact: Contact | None, *, severity: str, district: str,
           groups: Sequence[str], now: float, default_language: str = "vi") -> Expansion:
    """The deliveries to ``receiver`` of something of ``severity`` in ``district`` and
    ``groups`` at ``now``, or why there are none."""
    language = receiver.language or default_language
    addresses: dict[str, str | None] = {"email": receiver.email, "sms": receiver.phone,
                                        "webhook": receiver.webhook}
    wanted: tuple[str, ...] = receiver.channels or CHANNELS
    if receiver.account:
        if contact is None:
            return Expansion([], ["no_account"])
        if contact.disabled:
            return Expansion([], ["disabled"])
        if severity_rank(severity) < severity_rank(contact.min_severity):
            return Expansion([], ["severity"])
        wanted_groups: list[str | None] = list(groups) or [None]
        if not any(contact.scope.allows(district=district, group=g) for g in wanted_groups):
            return Expansion([], ["scope"])
        if contact.quiet is not None and contact.quiet.contains(minute_of_day(now)) and not (
                severity == "critical" and contact.quiet_critical):
            return Expansion([], ["quiet_hours"])
        addresses["email"] = receiver.email or contact.email
        addresses["sms"] = receiver.phone or contact.phone
        language = receiver.language or contact.language
        if contact.channels:
            wanted = tuple(c for c in wanted if c in contact.channels)
    out = [Delivery(receiver.name, c, a, language) for c in CHANNELS
           if c in wanted and (a := addresses[c])]
    return Expansion(out, [] if out else ["no_address"])
