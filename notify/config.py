"""The notifier's config: a TOML file (``IOC_NOTIFY_CONFIG``) of routes, receivers and
channels, validated at start. Every mistake is a :class:`~ioc.errors.ConfigError` naming the
file, the line and the field (``examples/notify.toml`` documents every key).

>>> cfg = parse('''
... [[receivers]]
... name = "desk"
... email = "desk@example.org"
...
... [[routes]]
... name = "floods"
... match = { group = "flooding", severity = ["major", "critical"] }
... receivers = ["desk"]
... ''', "notify.toml")
>>> sorted(cfg.routes[0].match["severity"]), cfg.routes[0].group_wait
(['critical', 'major'], 30.0)
>>> parse('''
... [[routes]]
... name = "x"
... match = { severity = "loud" }
... receivers = []
... ''', "notify.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ioc.errors.ConfigError: notify.toml:4: routes[0].match.severity: unknown value 'loud' (known: ...
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ioc import catalog
from ioc.errors import ConfigError
from ioc.events import CATEGORIES, SEVERITIES
from notify.items import Hours, parse_duration

__all__ = ["CHANNELS", "Config", "Digest", "Receiver", "Route", "Silence", "SmsGateway",
           "Smtp", "Step", "load", "parse"]

CHANNELS = ("email", "webhook", "sms")
MATCH_VALUES: dict[str, tuple[str, ...] | None] = {
    "group": tuple(catalog.GROUP_SLUGS), "district": tuple(catalog.DISTRICT_NAMES),
    "severity": tuple(SEVERITIES), "category": tuple(CATEGORIES),
    "status": ("firing", "acknowledged", "resolved", "silenced"),
    "kind": ("alert", "incident"), "detector": None, "source": None, "metric": None}


@dataclass(frozen=True)
class Step:
    """An escalation step: ``receivers`` are told ``after`` seconds after the alert opened,
    unless it was acknowledged or resolved first."""

    after: float
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    name: str
    receivers: tuple[str, ...] = ()
    match: dict[str, frozenset[str]] = field(default_factory=dict)
    hours: Hours | None = None
    cont: bool = False
    group_by: tuple[str, ...] = ("group", "district")
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 14400.0
    send_resolved: bool = True
    escalation: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Receiver:
    """Who is told: an account (``account``: its contact details and preferences) or plain
    addresses."""

    name: str
    account: str | None = None
    email: str | None = None
    phone: str | None = None
    webhook: str | None = None
    webhook_secret: str = ""
    language: str | None = None
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Smtp:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = ""
    sender: str = "ioc-monitor@localhost"
    timeout: float = 10.0
    mbox: str = ""  # set: emails are appended to this local mailbox file instead (the demo)


@dataclass(frozen=True)
class SmsGateway:
    url: str = ""
    method: str = "POST"
    content_type: str = "application/json"
    body: str = '{"to": "{to}", "text": "{text}"}'
    headers: dict[str, str] = field(default_factory=dict)
    unicode: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class Silence:
    matchers: dict[str, str]
    until: float
    comment: str = ""


@dataclass(frozen=True)
class Digest:
    hour: int
    receivers: tuple[str, ...]
    language: str = "vi"


@dataclass(frozen=True)
class Config:
    path: str
    routes: tuple[Route, ...]
    receivers: dict[str, Receiver]
    smtp: Smtp = field(default_factory=Smtp)
    sms: SmsGateway = field(default_factory=SmsGateway)
    limits: dict[str, tuple[int, float]] = field(default_factory=dict)
    silences: tuple[Silence, ...] = ()
    digest: Digest | None = None
    wall_url: str = "http://127.0.0.1:8080"
    language: str = "vi"
    tick: float = 1.0
    retry_base: float = 2.0
    retry_max: float = 600.0
    max_attempts: int = 12
    give_up_after: float = 86400.0
    workers: int = 8
    webhook_timeout: float = 10.0
    takeover: float = 10.0  # a crashed notifier's partitions move after this (session timeout)
    start: str = "latest"  # where a notifier's very first run starts reading ioc.alerts


def load(path: str | Path) -> Config:
    """Read and validate the config file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"IOC_NOTIFY_CONFIG: cannot read {p}: {exc.strerror or exc}") from None
    return parse(text, str(p), base=p.parent)


def parse(text: str, name: str, *, base: Path | None = None) -> Config:
    """Validate TOML ``text`` (from the file ``name``) into a :class:`Config`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"{name}:{m.group(1) if m else 1}: not valid TOML: {exc}") from None
    return _Reader(text, name, base or Path(".")).config(doc)


def line_of(text: str, path: tuple[str | int, ...]) -> int:
    """The line (1-based) of the key at ``path`` (``("routes", 1, "match")``), best effort.

    >>> line_of('a = 1\\n[[r]]\\nx = 1\\n[[r]]\\nx = 2\\ny = 3', ("r", 1, "y"))
    6
    """
    lines = text.splitlines()
    start, end, rest = 0, len(lines), list(path)
    if rest and isinstance(rest[0], str):
        key = re.escape(rest[0])
        if len(rest) > 1 and isinstance(rest[1], int):
            heads = [i for i, ln in enumerate(lines) if re.match(rf"\s*\[\[\s*{key}\s*\]\]", ln)]
            if rest[1] < len(heads):
                start, rest = heads[rest[1]], rest[2:]
        else:
            heads = [i for i, ln in enumerate(lines) if re.match(rf"\s*\[\s*{key}\s*\]", ln)]
            if heads:
                start, rest = heads[0], rest[1:]
        end = next((i for i in range(start + 1, len(lines))
                    if re.match(r"\s*\[[^\]]", lines[i])), len(lines))
    found = start
    for k in rest:
        if isinstance(k, int):
            continue
        pat = re.compile(rf"(^|[\s{{,]){re.escape(k)}\s*=")
        found = next((i for i in range(found, end) if pat.search(lines[i])), found)
    return found + 1


class _Reader:
    """Walks the parsed document, raising errors that name the file, line and field."""

    def __init__(self, text: str, name: str, base: Path) -> None:
        self.text, self.name, self.base = text, name, base

    def fail(self, path: tuple[str | int, ...], reason: str) -> ConfigError:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        return ConfigError(f"{self.name}:{line_of(self.text, path)}: {dotted}: {reason}")

    def table(self, doc: dict[str, Any], path: tuple[str | int, ...], keys: set[str]
              ) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise self.fail(path, "expected a table")
        for k in doc:
            if k not in keys:
                raise self.fail((*path, k), f"unknown key (known: {', '.join(sorted(keys))})")
        return doc

    def get(self, doc: dict[str, Any], path: tuple[str | int, ...], key: str, kind: type,
            default: Any) -> Any:
        if key not in doc:
            return default
        value = doc[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = {str: isinstance(value, str), bool: isinstance(value, bool),
              int: isinstance(value, int) and not isinstance(value, bool),
              float: isinstance(value, float)}[kind]
        if not ok:
            raise self.fail((*path, key), f"expected {kind.__name__}, got {value!r}")
        return value

    def duration(self, doc: dict[str, Any], path: tuple[str | int, ...], key: str,
                 default: float) -> float:
        if key not in doc:
            return default
        try:
            return parse_duration(doc[key])
        except ValueError as exc:
            raise self.fail((*path, key), str(exc)) from None

    def names(self, doc: dict[str, Any], path: tuple[str | int, ...], key: str
              ) -> tuple[str, ...]:
        value = doc.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail((*path, key), f"expected a string or a list of strings, got "
                                          f"{value!r}")
        return tuple(value)

    def config(self, doc: dict[str, Any]) -> Config:
        from notify.config_parts import read_config

        return read_config(self, doc)
