"""Who may do what on the dashboard: the role tokens, the origins a browser page may connect
from, and the request checks that decide a role before anything else runs.

Pure functions and one frozen class, no I/O: the HTTP routes (:mod:`dashboards.web`), the
websocket sessions (:mod:`dashboards.live`) and the edge (:mod:`dashboards.hardening`) call
them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from dashboards import commands, protocol
from ioc.errors import ConfigError
from ioc.settings import Settings

# Headers a request may carry once: two Authorization or Origin values would make the role or
# the origin check depend on which one is read.
SINGLE_HEADERS = ("Authorization", "Origin", "Host")
# The roles with an IOC_*_TOKEN automation key (supervisor and admin are people's roles only)
TOKEN_ROLES = ("operator", "leadership", "engineer")


@dataclass(frozen=True)
class Tokens:
    """The bearer token of each role; ``generated`` names the roles whose token was made up
    at start because its setting was empty.

    >>> t = Tokens(operator="op-token-1", leadership="lead-token-2", engineer="eng-token-3")
    >>> t.role_of("lead-token-2"), t.role_of("nope"), t.role_of(None)
    ('leadership', None, None)
    """

    operator: str
    leadership: str
    engineer: str
    generated: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Tokens:
        """Tokens from settings; random ones for unset roles. Raise ConfigError when two roles
        share a token (the role would be ambiguous)."""
        given = {"operator": settings.operator_token, "leadership": settings.leadership_token,
                 "engineer": settings.engineer_token}
        made = frozenset(role for role, tok in given.items() if not tok)
        values = {role: tok or secrets.token_urlsafe(24) for role, tok in given.items()}
        if len(set(values.values())) != len(values):
            raise ConfigError("IOC_OPERATOR_TOKEN, IOC_LEADERSHIP_TOKEN and IOC_ENGINEER_TOKEN "
                              "must differ (a token decides the role)")
        for role, tok in values.items():
            if len(tok) < 8:
                raise ConfigError(f"IOC_{role.upper()}_TOKEN: use at least 8 characters")
        return cls(generated=made, **values)

    def role_of(self, token: str | None) -> str | None:
        """The role ``token`` belongs to, compared in constant time (every role is checked)."""
        if not token:
            return None
        given = token.encode()
        found = None
        for role in TOKEN_ROLES:
            if hmac.compare_digest(given, getattr(self, role).encode()):
                found = role
        return found


def _origin_key(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = 443 if parts.scheme in ("https", "wss") else 80
    return parts.scheme, parts.hostname, port or default


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins of the pages this dashboard serves itself: loopback names and the bind
    address, on its port. A wildcard bind (``0.0.0.0``, ``::``) adds no name: the public
    name of such a server goes in ``IOC_ALLOWED_ORIGINS``.

    >>> own_origins("127.0.0.1", 8080)
    ('http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080')
    >>> own_origins("10.0.0.5", 80)[-1]
    'http://10.0.0.5:80'
    """
    names = ["127.0.0.1", "localhost", "[::1]"]
    if host and host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        names.append(f"[{host}]" if ":" in host else host)
    return tuple(f"http://{name}:{port}" for name in names)


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """An ``Origin`` is allowed when absent (not a browser) or one of ``allowed`` (the
    dashboard's :func:`own_origins` and ``IOC_ALLOWED_ORIGINS``), compared as (scheme, host,
    port). The request's ``Host`` header is never consulted: a page on a name the attacker
    points at 127.0.0.1 (DNS rebinding) sends its own name as ``Origin`` and is refused.

    >>> own = own_origins("127.0.0.1", 8080)
    >>> origin_allowed("http://127.0.0.1:8080", own), origin_allowed(None, own)
    (True, True)
    >>> origin_allowed("http://evil.example:8080", own), origin_allowed("null", own)
    (False, False)
    >>> origin_allowed("https://wall.city.vn", ("https://wall.city.vn:443",))
    True
    """
    if origin is None:
        return True
    key = _origin_key(origin)
    if key is None:
        return False
    return any(_origin_key(a) == key for a in allowed)


def duplicate_header(headers: Iterable[tuple[str, str]],
                     names: Iterable[str] = SINGLE_HEADERS) -> str | None:
    """The first of ``names`` that the (name, value) pairs of a request carry more than once
    (an ambiguous request: answered 400), else None. Names compare case-insensitively.

    >>> duplicate_header([("Origin", "http://a"), ("origin", "http://b")])
    'Origin'
    >>> duplicate_header([("Origin", "http://a"), ("Host", "x")]) is None
    True
    """
    seen: dict[str, int] = {}
    for name, _ in headers:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
    for name in names:
        if seen.get(name.lower(), 0) > 1:
            return name
    return None


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header: None without the header, ``""``
    for another scheme (a token that matches no role).

    >>> bearer("Bearer abc "), bearer(None), bearer("Basic eDp5")
    ('abc', None, '')
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def may_subscribe_to_windows(role: str) -> bool:
    """Window summaries (per-source detail) are for some roles only (docs/protocol.md).

    >>> may_subscribe_to_windows("engineer"), may_subscribe_to_windows("leadership")
    (True, False)
    """
    return role in protocol.WINDOW_ROLES


def check_subscription(role: str, sub: protocol.Subscription) -> None:
    """Raise the ``forbidden`` :class:`~dashboards.protocol.ProtocolError` when ``role`` may
    not have subscription ``sub``."""
    if sub.windows and not may_subscribe_to_windows(role):
        raise protocol.ProtocolError("forbidden", "windows",
                                     f"the {role} role cannot subscribe to window summaries")


def audit_user(role: str, settings: Settings) -> str:
    """The audit ``user`` of a role's commands: the role and its token's label (a name a
    client declares is not verified, so never recorded)."""
    label = settings.operator_label if role == "operator" else ""
    return commands.audit_user(role, label)
