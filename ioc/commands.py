"""What operators send on ``ioc.commands`` (:class:`Command`) and the silences those commands
make (:class:`SilenceRecord`), each validated as it is made; :mod:`ioc.events` re-exports them.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ioc.errors import ValidationError
from ioc.records import LABELS, Label
from ioc.validate import check_id, check_matchers, split_alert_id

__all__ = ["Command", "SilenceRecord"]


class Command(msgspec.Struct, frozen=True, kw_only=True):
    """An operator's command. ``ack``/``resolve``/``note`` target ``alert_id``; ``silence``
    targets every alert whose fields equal all ``matchers`` until ``until``; ``unsilence``
    lifts the silence ``silence_id`` (the ``command_id`` of the ``silence`` command).

    Matchers are checked against the catalog (see :func:`check_matchers`); how long and how
    broad a silence may be is a deployment's policy (:func:`check_silence_policy`), judged
    where the settings are known.

    >>> Command(command_id="c1", action="silence", user="operator", ts=0.0, until=60.0,
    ...         matchers={"group": "no-such-group"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: matchers.group: unknown group 'no-such-group' (known: ...)
    """

    command_id: str
    action: Literal["ack", "resolve", "silence", "unsilence", "note"]
    user: str
    ts: float
    reason: str = ""
    alert_id: str | None = None
    matchers: dict[str, str] | None = None
    until: float | None = None
    text: str | None = None
    silence_id: str | None = None
    display_name: str | None = None  # the signed-in person's name (records before it: None)
    label: Label | None = None  # ``ack``/``resolve``: what the alert was (``reason``: the note)

    def __post_init__(self) -> None:
        check_id("command_id", self.command_id)
        if self.label is not None:
            if self.action not in ("ack", "resolve"):
                raise ValidationError("label", f"a label goes with `ack` or `resolve`, not "
                                      f"`{self.action}`")
            if self.label not in LABELS:
                raise ValidationError("label", f"unknown label {self.label!r:.40} (known: "
                                      f"{', '.join(LABELS)})")
        check_id("user", self.user)
        if self.display_name is not None:
            check_id("display_name", self.display_name)
        if self.action in ("ack", "resolve", "note"):
            if not self.alert_id:
                raise ValidationError(
                    "alert_id", f"`{self.action}` needs the alert_id it applies to")
            split_alert_id(self.alert_id)
        if self.action == "note" and not (self.text and self.text.strip()):
            raise ValidationError("text", "`note` needs a non-empty text")
        if self.action == "silence":
            if not self.matchers:
                raise ValidationError(
                    "matchers", "`silence` needs matchers, e.g. {\"group\": \"traffic\"}")
            check_matchers(self.matchers)
            if self.until is None or self.until <= self.ts:
                raise ValidationError("until", "`silence` needs an end time after `ts`")
        if self.action == "unsilence":
            if not self.silence_id:
                raise ValidationError(
                    "silence_id", "`unsilence` needs the silence_id it lifts")
            check_id("silence_id", self.silence_id)

    @property
    def role(self) -> str:
        """The role part of ``user`` (``operator`` of ``operator:north-desk``)."""
        return self.user.partition(":")[0]


class SilenceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A silence as made by ``silence`` command ``silence_id``: alerts whose fields equal all
    ``matchers`` are held ``silenced`` before ``until``, unless an ``unsilence`` lifted it
    (``lifted_at``, by ``lifted_by``). Workers keep it (:mod:`streams.silences`), the wall
    lists it (:mod:`dashboards.state`)."""

    silence_id: str
    matchers: dict[str, str]
    until: float
    user: str
    reason: str
    created: float
    lifted_at: float | None = None
    lifted_by: str | None = None
    display_name: str | None = None    # the name of ``user`` (older records: None)
    lifted_by_name: str | None = None  # the name of ``lifted_by``
