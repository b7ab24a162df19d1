"""Command-line values of the running tools: numbers naming their option, start times, and
times shown to people."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ioc.errors import UsageError

__all__ = ["format_ts", "parse_number", "parse_start"]


def parse_number(option: str, text: str | None, *, integer: bool = False,
                 minimum: float | None = None) -> float | None:
    """A command-line number, or UsageError naming the option (``None`` passes through).

    >>> parse_number("--rate", "250"), parse_number("--seed", "7", integer=True)
    (250.0, 7)
    >>> parse_number("--rate", "-1", minimum=0)
    Traceback (most recent call last):
    ...
    ioc.errors.UsageError: --rate: must be at least 0, got '-1'
    """
    if text is None:
        return None
    try:
        value: float = int(text) if integer else float(text)
    except ValueError:
        what = "a whole number" if integer else "a number"
        raise UsageError(f"{option}: expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{option}: expected a finite number, got {text!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{option}: must be at least {minimum:g}, got {text!r}")
    return value


def parse_start(text: str | None, now: Callable[[], float] = time.time) -> float:
    """``--start`` as epoch seconds: epoch seconds or RFC 3339; default: now (whole seconds).

    >>> parse_start("2026-11-23T12:00:00+07:00"), parse_start("1795410000")
    (1795410000.0, 1795410000.0)
    """
    if text is None:
        return float(int(now()))
    from ioc.errors import ValidationError
    from ioc.events import parse_ts

    try:
        number: float | str = float(text)
    except ValueError:
        number = text
    try:
        return parse_ts("--start", number)
    except ValidationError as exc:
        raise UsageError(str(exc)) from None


def format_ts(ts: float) -> str:
    """Epoch seconds as RFC 3339 UTC, for people.

    >>> format_ts(1795410000)
    '2026-11-23T05:00:00Z'
    """
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
