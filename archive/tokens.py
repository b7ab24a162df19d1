"""The secrets the archive hands out (session tokens, sign-in links, API keys): made random,
given to the client once, stored only as a digest.

A secret is 256 random bits, so a plain SHA-256 is enough to store it (a slow password hash
adds nothing to a random secret of that size, and every request checks one).

>>> digest("abc")[:16]
'ba7816bf8f01cfea'
>>> len(new_secret()) >= 43
True
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["MAX_SECRET_LEN", "TOUCH_S", "digest", "new_secret"]

TOUCH_S = 30.0          # last_seen / last_used are written at most this often per secret
MAX_SECRET_LEN = 200    # a longer presented secret is refused without a lookup


def digest(secret: str) -> str:
    """The stored form of a session token or API key: hex SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh 256-bit random token, URL-safe."""
    return secrets.token_urlsafe(32)
