"""Posted forms (sign-in, sign-out): the url-encoded body read with a bound
(:data:`MAX_BODY`, :class:`TooBig` past it) and the check that a form was posted from one of
this dashboard's own pages.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request

from dashboards.auth import origin_allowed

MAX_BODY = 4096


class TooBig(Exception):
    """The request body is over :data:`MAX_BODY`."""


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of ``request`` (first value of each field); :class:`TooBig` past
    :data:`MAX_BODY` bytes, declared or sent."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise TooBig
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise TooBig
    except ClientDisconnect:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def posted_here(request: Request, origins: tuple[str, ...]) -> bool:
    """A foreign ``Origin`` is refused. ``null`` passes on to the form token: browsers
    send it for the pages' own form posts under ``Referrer-Policy: no-referrer``."""
    origin = request.headers.get("origin")
    return origin == "null" or origin_allowed(origin, origins)
