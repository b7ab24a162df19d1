"""Access: everything that lets a person or a machine in, on one archive store: the dashboard's
sign-in sessions (:mod:`archive.web_sessions`), one-time sign-in links
(:mod:`archive.sign_in_links`), the API keys of machine clients (:mod:`archive.api_keys`) and
the audit log of sign-ins (:mod:`archive.sign_in_log`); their secrets are made and stored
hashed by :mod:`archive.tokens`. The names callers import from here are re-exported.

>>> digest("abc")[:16]
'ba7816bf8f01cfea'
"""

from __future__ import annotations

from archive.api_keys import KEY_PREFIX, ApiKey, ApiKeys
from archive.sign_in_links import LINK_TTL_S, LinkCheck, SignInLinks
from archive.sign_in_log import REASONS, SignIn, SignInLog
from archive.tokens import TOUCH_S, digest
from archive.web_sessions import SessionCheck, Sessions

__all__ = ["KEY_PREFIX", "LINK_TTL_S", "REASONS", "TOUCH_S", "Access", "ApiKey", "LinkCheck",
           "SessionCheck", "SignIn", "digest"]


class Access(Sessions, SignInLinks, ApiKeys, SignInLog):
    """Sessions, sign-in links, keys and the sign-in log of ``store`` in one object (what the
    dashboard and the ingest API hold): ``Access(store, max_age_s=..., idle_s=...)``, the
    session lifetimes as for :class:`~archive.web_sessions.Sessions`."""
