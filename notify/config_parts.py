"""The sections of the notifier's config file, read and checked one by one (the entry point
is :func:`notify.config.parse`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from notify.config import (
    CHANNELS,
    MATCH_VALUES,
    Config,
    Digest,
    Receiver,
    Route,
    Silence,
    SmsGateway,
    Smtp,
    Step,
)
from notify.items import DA_NANG, parse_hours

if TYPE_CHECKING:
    from notify.config import _Reader

LANGUAGES = ("vi", "en")
# a notifier's Kafka session timeout: what brokers accept by default (group.min/max.session...)
TAKEOVER_S = (6.0, 1800.0)
_TOP = {"notify", "defaults", "smtp", "sms", "limits", "receivers", "routes", "silences",
        "digest"}
_ROUTE = {"name", "match", "hours", "continue", "receivers", "group_by", "group_wait",
          "group_interval", "repeat_interval", "send_resolved", "escalation"}
_DEFAULTS = {"group_by", "group_wait", "group_interval", "repeat_interval", "send_resolved"}
_LABELS = {"alertname", "alert_id", "kind", "status", "severity", "category", "group",
           "district", "detector", "source", "metric"}


def read_config(r: _Reader, doc: dict[str, Any]) -> Config:
    r.table(doc, (), _TOP)
    top = r.table(doc.get("notify", {}), ("notify",), {
        "wall_url", "language", "tick", "retry_base", "retry_max", "max_attempts",
        "give_up_after", "workers", "webhook_timeout", "takeover", "start"})
    p: tuple[str | int, ...] = ("notify",)
    language = _language(r, top, p, "vi")
    receivers = _receivers(r, doc.get("receivers", []))
    defaults = r.table(doc.get("defaults", {}), ("defaults",), _DEFAULTS)
    routes = tuple(_route(r, raw, i, defaults, receivers)
                   for i, raw in enumerate(_list(r, doc, "routes")))
    names = [x.name for x in routes]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise r.fail(("routes", i, "name"), f"a second route named {n!r}")
    start = r.get(top, p, "start", str, "latest")
    if start not in ("latest", "earliest"):
        raise r.fail((*p, "start"), f"expected latest or earliest, got {start!r}")
    max_attempts = r.get(top, p, "max_attempts", int, 12)
    workers = r.get(top, p, "workers", int, 8)
    if max_attempts < 1 or workers < 1:
        raise r.fail((*p, "max_attempts" if max_attempts < 1 else "workers"), "must be >= 1")
    takeover = r.duration(top, p, "takeover", 10.0)
    if not TAKEOVER_S[0] <= takeover <= TAKEOVER_S[1]:
        raise r.fail((*p, "takeover"), f"must be between {TAKEOVER_S[0]:g} s and "
                                       f"{TAKEOVER_S[1]:g} s (Kafka's group session bounds), "
                                       f"got {takeover:g} s")
    return Config(
        path=r.name, routes=routes, receivers=receivers, smtp=_smtp(r, doc.get("smtp", {})),
        sms=_sms(r, doc.get("sms", {})), limits=_limits(r, doc.get("limits", {})),
        silences=tuple(_silence(r, raw, i) for i, raw in enumerate(_list(r, doc, "silences"))),
        digest=_digest(r, doc["digest"], receivers) if "digest" in doc else None,
        wall_url=r.get(top, p, "wall_url", str, "http://127.0.0.1:8080").rstrip("/"),
        language=language, tick=r.duration(top, p, "tick", 1.0),
        retry_base=r.duration(top, p, "retry_base", 2.0),
        retry_max=r.duration(top, p, "retry_max", 600.0), max_attempts=max_attempts,
        give_up_after=r.duration(top, p, "give_up_after", 86400.0), workers=workers,
        webhook_timeout=r.duration(top, p, "webhook_timeout", 10.0), takeover=takeover,
        start=start)


def _list(r: _Reader, doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise r.fail((key,), f"expected an array of tables ([[{key}]])")
    return value


def _language(r: _Reader, doc: dict[str, Any], path: tuple[str | int, ...],
              default: str | None) -> Any:
    lang = r.get(doc, path, "language", str, default)
    if lang is not None and lang not in LANGUAGES:
        raise r.fail((*path, "language"), f"unknown language {lang!r} (known: vi, en)")
    return lang


def _receivers(r: _Reader, raw: Any) -> dict[str, Receiver]:
    if not isinstance(raw, list):
        raise r.fail(("receivers",), "expected an array of tables ([[receivers]])")
    out: dict[str, Receiver] = {}
    for i, doc in enumerate(raw):
        p: tuple[str | int, ...] = ("receivers", i)
        r.table(doc, p, {"name", "account", "email", "phone", "webhook", "webhook_secret",
                         "language", "channels"})
        name = r.get(doc, p, "name", str, None)
        if not name:
            raise r.fail((*p, "name"), "every receiver needs a name")
        if name in out:
            raise r.fail((*p, "name"), f"a second receiver named {name!r}")
        got = {k: r.get(doc, p, k, str, None) for k in ("account", "email", "phone", "webhook")}
        if not any(got.values()):
            raise r.fail((*p, "name"), f"receiver {name!r} needs an account, email, phone "
                                       "or webhook")
        if got["email"] and "@" not in got["email"]:
            raise r.fail((*p, "email"), f"not an email address: {got['email']!r}")
        if got["webhook"] and not got["webhook"].startswith(("http://", "https://")):
            raise r.fail((*p, "webhook"), f"expected an http(s) URL, got {got['webhook']!r}")
        channels = r.names(doc, p, "channels")
        for c in channels:
            if c not in CHANNELS:
                raise r.fail((*p, "channels"), f"unknown channel {c!r} (known: "
                                               f"{', '.join(CHANNELS)})")
        out[name] = Receiver(name=name, **got, webhook_secret=r.get(
            doc, p, "webhook_secret", str, ""), language=_language(r, doc, p, None),
            channels=channels)
    return out


def _known(r: _Reader, path: tuple[str | int, ...], names: tuple[str, ...],
           receivers: dict[str, Receiver]) -> tuple[str, ...]:
    for n in names:
        if n not in receivers:
            raise r.fail(path, f"unknown receiver {n!r} (known: "
                               f"{', '.join(receivers) or 'none'})")
    return names


def _match(r: _Reader, doc: Any, p: tuple[str | int, ...]) -> dict[str, frozenset[str]]:
    r.table(doc, p, set(MATCH_VALUES))
    out: dict[str, frozenset[str]] = {}
    for key in doc:
        values = r.names(doc, p, key)
        known = MATCH_VALUES[key]
        for v in values:
            if known is not None and v not in known:
                raise r.fail((*p, key), f"unknown value {v!r} (known: {', '.join(known)})")
        out[key] = frozenset(values)
    return out


def _route(r: _Reader, doc: Any, i: int, defaults: dict[str, Any],
           receivers: dict[str, Receiver]) -> Route:
    p: tuple[str | int, ...] = ("routes", i)
    r.table(doc, p, _ROUTE)
    merged = {**defaults, **doc}
    name = r.get(doc, p, "name", str, f"route-{i + 1}")
    hours = None
    if "hours" in doc:
        try:
            hours = parse_hours(r.get(doc, p, "hours", str, ""))
        except ValueError as exc:
            raise r.fail((*p, "hours"), str(exc)) from None
    group_by = r.names(merged, p, "group_by") if "group_by" in merged else ("group", "district")
    for label in group_by:
        if label not in _LABELS:
            raise r.fail((*p, "group_by"), f"unknown label {label!r} (known: "
                                           f"{', '.join(sorted(_LABELS))})")
    steps: list[Step] = []
    raw_steps = doc.get("escalation", [])
    if not isinstance(raw_steps, list):
        raise r.fail((*p, "escalation"), "expected a list of steps {after, receivers}")
    for k, s in enumerate(raw_steps):
        sp = (*p, "escalation")
        r.table(s, sp, {"after", "receivers"})
        after = r.duration(s, sp, "after", 0.0)
        if steps and after < steps[-1].after:
            raise r.fail(sp, f"step {k + 1} comes before step {k}: `after` must not decrease")
        steps.append(Step(after, _known(r, sp, r.names(s, sp, "receivers"), receivers)))
    route = Route(
        name=name, receivers=_known(r, (*p, "receivers"), r.names(doc, p, "receivers"),
                                    receivers),
        match=_match(r, doc.get("match", {}), (*p, "match")), hours=hours,
        cont=r.get(doc, p, "continue", bool, False), group_by=group_by,
        group_wait=r.duration(merged, p, "group_wait", 30.0),
        group_interval=r.duration(merged, p, "group_interval", 300.0),
        repeat_interval=r.duration(merged, p, "repeat_interval", 14400.0),
        send_resolved=r.get(merged, p, "send_resolved", bool, True), escalation=tuple(steps))
    if not route.receivers and not route.escalation:
        raise r.fail((*p, "receivers"), f"route {name!r} tells nobody: give receivers or "
                                        "escalation steps")
    return route


def _smtp(r: _Reader, doc: Any) -> Smtp:
    p: tuple[str | int, ...] = ("smtp",)
    r.table(doc, p, {"host", "port", "starttls", "ssl", "username", "password",
                     "password_file", "sender", "timeout", "mbox"})
    password = r.get(doc, p, "password", str, "")
    if "password_file" in doc:
        path = r.base / r.get(doc, p, "password_file", str, "")
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise r.fail((*p, "password_file"), f"cannot read {path}: "
                                                f"{exc.strerror or exc}") from None
    return Smtp(host=r.get(doc, p, "host", str, "127.0.0.1"), port=r.get(doc, p, "port", int, 25),
                starttls=r.get(doc, p, "starttls", bool, False),
                ssl=r.get(doc, p, "ssl", bool, False),
                username=r.get(doc, p, "username", str, ""), password=password,
                sender=r.get(doc, p, "sender", str, "ioc-monitor@localhost"),
                timeout=r.duration(doc, p, "timeout", 10.0),
                mbox=str(r.base / mbox) if (mbox := r.get(doc, p, "mbox", str, "")) else "")


def _sms(r: _Reader, doc: Any) -> SmsGateway:
    p: tuple[str | int, ...] = ("sms",)
    r.table(doc, p, {"url", "method", "content_type", "body", "headers", "unicode", "timeout"})
    headers = doc.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise r.fail((*p, "headers"), "expected a table of strings")
    method = r.get(doc, p, "method", str, "POST").upper()
    if method not in ("POST", "GET", "PUT"):
        raise r.fail((*p, "method"), f"expected POST, PUT or GET, got {method!r}")
    body = r.get(doc, p, "body", str, SmsGateway.body)
    if "{text}" not in body and "{text}" not in r.get(doc, p, "url", str, ""):
        raise r.fail((*p, "body"), "the body (or the url) must contain {text}")
    return SmsGateway(url=r.get(doc, p, "url", str, ""), method=method,
                      content_type=r.get(doc, p, "content_type", str, "application/json"),
                      body=body, headers=dict(headers),
                      unicode=r.get(doc, p, "unicode", bool, False),
                      timeout=r.duration(doc, p, "timeout", 10.0))


def _limits(r: _Reader, doc: Any) -> dict[str, tuple[int, float]]:
    r.table(doc, ("limits",), set(CHANNELS))
    out = {}
    for channel, raw in doc.items():
        count, _, per = str(raw).partition("/")
        try:
            n = int(count)
            span = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[per]
            if n < 1:
                raise ValueError
        except (ValueError, KeyError):
            raise r.fail(("limits", channel), f"expected N/s, N/m, N/h or N/d, got {raw!r}"
                         ) from None
        out[channel] = (n, span)
    return out


def _silence(r: _Reader, doc: Any, i: int) -> Silence:
    p: tuple[str | int, ...] = ("silences", i)
    r.table(doc, p, {"matchers", "until", "comment"})
    matchers = doc.get("matchers", {})
    if not isinstance(matchers, dict) or not matchers or not all(
            isinstance(v, str) for v in matchers.values()):
        raise r.fail((*p, "matchers"), "expected a table of label = value")
    _match(r, matchers, (*p, "matchers"))
    until = doc.get("until")
    if isinstance(until, datetime):
        stamp = (until if until.tzinfo else until.replace(tzinfo=DA_NANG)).timestamp()
    else:
        raise r.fail((*p, "until"), "expected a date-time, e.g. 2026-12-31T08:00:00+07:00")
    return Silence(dict(matchers), stamp, r.get(doc, p, "comment", str, ""))


def _digest(r: _Reader, doc: Any, receivers: dict[str, Receiver]) -> Digest:
    p: tuple[str | int, ...] = ("digest",)
    r.table(doc, p, {"hour", "receivers", "language"})
    hour = r.get(doc, p, "hour", int, 7)
    if not 0 <= hour <= 23:
        raise r.fail((*p, "hour"), f"expected an hour 0-23 (Da Nang), got {hour}")
    return Digest(hour, _known(r, (*p, "receivers"), r.names(doc, p, "receivers"), receivers),
                  _language(r, doc, p, "vi"))
