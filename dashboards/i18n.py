"""The catalogs over HTTP and the login page in its reader's language.

``GET /i18n/<lang>`` serves :func:`ioc.i18n.catalog_of` (no credentials: the login page needs
it too; it holds no alert content). The pages keep the reader's choice in ``localStorage`` and
in the ``ioc_lang`` cookie, which the server reads to write the login page in that language
(:func:`localize`): ``{{t:key}}`` placeholders become messages and ``<html lang>`` follows.
The sign-in code says things by message key (``login.msg.*``) and parameters, written in the
reader's language by :func:`said`.

>>> page = '<html lang="en"><title>{{t:login.title}}</title><p>{{message}}</p>'
>>> localize(page, "ioc_lang=vi")
'<html lang="vi"><title>Đăng nhập · ioc-monitor</title><p>{{message}}</p>'
>>> said("login.msg.signed_out", "vi"), said("login.msg.throttled", "en", {"minutes": 15})
('Bạn đã đăng xuất.', 'Too many failed sign-ins. Try again in 15 minutes.')
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboards.state import encode
from ioc import i18n

__all__ = ["catalog_route", "localize", "said"]

_PLACEHOLDER = re.compile(r"{{t:([a-z0-9_.]+)}}")


def said(key: str, lang: str, params: Mapping[str, Any] | None = None) -> str:
    """A message of the sign-in code (a ``login.msg.*`` key) in ``lang`` ("" for none)."""
    return i18n.t(lang, key, **(params or {})) if key else ""


def localize(page: str, cookie_header: str | None) -> str:
    """``page`` in the language the cookie names (the default when none): its ``{{t:key}}``
    placeholders filled (HTML-escaped) and its ``<html lang>`` set."""
    lang = i18n.from_cookie(cookie_header)
    page = _PLACEHOLDER.sub(lambda m: html.escape(i18n.t(lang, m.group(1))), page)
    return page.replace('<html lang="en">', f'<html lang="{lang}">', 1)


async def _catalog(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang not in i18n.LANGUAGES:
        return Response(f"no catalog for {lang!r} (known: {', '.join(i18n.LANGUAGES)})\n", 404,
                        media_type="text/plain; charset=utf-8")
    return Response(encode(i18n.catalog_of(lang)), 200, media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


def catalog_route() -> Route:
    """``GET /i18n/<lang>``: one language's messages."""
    return Route("/i18n/{lang}", _catalog, methods=["GET"])
