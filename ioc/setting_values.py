"""How the text of an ``IOC_*`` variable becomes a setting's value (:mod:`ioc.settings`
declares the settings; this checks types, bounds and choices, with errors that say what to
fix)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ioc.errors import ConfigError

__all__ = ["parse_ack_sla", "parse_value"]


def parse_value(f: dataclasses.Field[Any], env: str, raw: str) -> Any:
    """The value of setting field ``f`` from its variable ``env``'s text ``raw``; ConfigError
    saying what to fix."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    meta = f.metadata
    value: Any
    if kind.startswith("int"):
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{env}: expected an integer, got {raw!r}") from None
    elif kind.startswith("float"):
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{env}: expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{env}: expected a finite number, got {raw!r}")
    elif kind.startswith("bool"):
        lowered = raw.lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"{env}: expected true or false, got {raw!r}")
        value = lowered in ("1", "true", "yes", "on")
    else:
        value = raw
    if f.name == "ack_sla":
        parse_ack_sla(raw, env)
    if meta["minimum"] is not None and value < meta["minimum"]:
        raise ConfigError(f"{env}: must be at least {meta['minimum']}, got {raw!r}")
    if meta["choices"]:
        if f.name == "log_level":
            value = str(value).upper()
        if value not in meta["choices"]:
            allowed = ", ".join(meta["choices"])
            raise ConfigError(f"{env}: must be one of {allowed}, got {raw!r}")
    return value


def parse_ack_sla(raw: str, env: str = "IOC_ACK_SLA_S") -> dict[str, float]:
    """Seconds per severity from ``severity=seconds`` pairs; ConfigError naming ``env``.

    >>> parse_ack_sla("critical=300, major=900,warning=3600,info=86400")["major"]
    900.0
    >>> parse_ack_sla("critical=300,major=soon")
    Traceback (most recent call last):
    ...
    ioc.errors.ConfigError: IOC_ACK_SLA_S: major=soon: expected seconds > 0, e.g. major=900
    """
    severities = ("critical", "major", "warning", "info")
    out: dict[str, float] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, eq, value = (x.strip() for x in part.partition("="))
        if not eq or name not in severities:
            raise ConfigError(f"{env}: {part!r} is not severity=seconds (severities: "
                              f"{', '.join(severities)})")
        if name in out:
            raise ConfigError(f"{env}: {name} is given twice")
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if not seconds > 0 or seconds == float("inf"):
            raise ConfigError(f"{env}: {part}: expected seconds > 0, e.g. {name}=900")
        out[name] = seconds
    missing = [s for s in severities if s not in out]
    if missing:
        raise ConfigError(f"{env}: no value for {', '.join(missing)} (e.g. "
                          f"critical=300,major=900,warning=3600,info=86400)")
    return out
