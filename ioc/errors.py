"""Errors raised by ioc-monitor.

Every error the product raises on purpose derives from :class:`IocError`, so the command line
can tell a user's mistake (one clear line, non-zero exit) from a bug (a traceback)::

    IocError
    ├── ConfigError        a setting or config file is wrong (names the variable and the fix)
    ├── UsageError         a command-line argument is wrong
    ├── ValidationError    an event or record breaks its contract (names the field and why)
    ├── BrokerError        a broker cannot be started, reached or administered
    └── PluginError        a detector plugin failed to load or breaks the contract

>>> try:
...     raise ValidationError("value", "must be a finite number, got nan")
... except IocError as exc:
...     print(exc)
value: must be a finite number, got nan
"""

from __future__ import annotations


class IocError(Exception):
    """Root of every error ioc-monitor raises on purpose."""


class ConfigError(IocError):
    """A setting, environment variable or config file is invalid."""


class UsageError(IocError):
    """A command-line argument is invalid."""


class BrokerError(IocError):
    """A Kafka broker cannot be started, reached or administered."""


class PluginError(IocError):
    """A detector plugin failed to load or breaks the detector contract."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"detector plugin {name!r}: {reason}")
        self.name = name
        self.reason = reason


class ValidationError(IocError):
    """An event or record breaks its contract.

    ``field`` is a dotted path into the payload (``$[3].value`` for the fourth reading of a
    pack), ``reason`` says why in words a sensor integrator can act on.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
