"""The catalogs over HTTP and the login page in its reader's language.

``GET /i18n/<lang>`` serves :func:`ioc.i18n.catalog_of` (no credentials: the login page needs
it too; it holds no alert content). The pages keep the reader's choice in ``localStorage`` and
in the ``ioc_lang`` cookie, which the server reads to write the login page in that language
(:func:`localize`): ``{{t:key}}`` placeholders become messages, ``<html lang>`` follows, and
a message the sign-in code wrote in English is put in the reader's language when the catalogs
have it.

>>> page = '<html lang="en"><title>{{t:login.title}}</title><p>{{message}}</p>'
>>> localize(page, "ioc_lang=vi")
'<html lang="vi"><title>Đăng nhập · ioc-monitor</title><p>{{message}}</p>'
>>> said("You are signed out.", "vi"), said("Something new.", "vi")
('Bạn đã đăng xuất.', 'Something new.')
"""

from __future__ import annotations

import html
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dashboards.state import encode
from ioc import i18n

__all__ = ["catalog_route", "localize", "said"]

_PLACEHOLDER = re.compile(r"{{t:([a-z0-9_.]+)}}")


def said(message: str, lang: str) -> str:
    """An English message of the sign-in code in ``lang`` (as it is when no catalog has it)."""
    if not message or lang == "en":
        return message
    english = i18n.messages("en")
    for key, text in english.items():
        if key.startswith("login.msg.") and text == message:
            return i18n.messages(lang)[key]
    return message


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
