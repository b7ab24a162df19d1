"""Operators' commands: a client's :class:`~dashboards.protocol.CommandRequest` checked and
turned into an :class:`ioc.events.Command`, the user it is recorded as, and its Kafka key on
``ioc.commands``. Pure: no sockets, no Kafka (the relay, :mod:`dashboards.relay`, sends it).

>>> req = CommandRequest(action="ack", alert_id="robust_z:flooding:rain-HC-01:rainfall",
...                      name="Director Tran")
>>> build_command(req, role="operator", now=1795410000.0, command_id="c1").user
'operator'
>>> try:
...     build_command(CommandRequest(action="note", alert_id=req.alert_id),
...                   role="operator", now=1795410000.0, command_id="c2")
... except ProtocolError as exc:
...     print(exc.code, exc.field, exc.reason)
invalid_command text `note` needs a non-empty text
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from dashboards.protocol import COMMAND_ROLES, CommandRequest, ErrorCode, ProtocolError
from ioc import catalog
from ioc.errors import ValidationError
from ioc.events import Command, check_silence_policy, split_alert_id

ACTIONS = ("ack", "resolve", "silence", "unsilence", "note")
MAX_SILENCE_S = 86_400.0  # the default of IOC_MAX_SILENCE_S


def alert_source(alert_id: str) -> str:
    """The source id of an alert id (``detector:group:source:metric``, a ``:`` inside a part
    written ``%3A``); raise ``ValueError`` for a malformed id or an unknown group.

    >>> alert_source("robust_z:flooding:rain-HC-01:rainfall")
    'rain-HC-01'
    >>> alert_source("robust_z:wastewater:pump%3AST%3A01:inflow")
    'pump:ST:01'
    """
    try:
        _, group, source, _ = split_alert_id(alert_id)
    except ValidationError as exc:
        raise ValueError(exc.reason) from None
    if group not in catalog.GROUPS:
        raise ValueError(f"unknown group {group!r:.60} in alert_id")
    return source


def command_key(command: Command) -> str:
    """The Kafka key of a command on ``ioc.commands`` (ARCH.md: the alert's source id; for a
    silence the ``source`` matcher, else the source of an ``alert_id`` matcher, else the
    ``group`` matcher, else ``"silence"``; for an unsilence the silence id).

    >>> c = Command(command_id="c1", action="silence", user="operator", ts=1795410000.0,
    ...             matchers={"group": "traffic"}, until=1795413600.0)
    >>> command_key(c)
    'traffic'
    """
    if command.action == "unsilence" and command.silence_id:
        return command.silence_id
    if command.action != "silence" and command.alert_id:
        return alert_source(command.alert_id)
    matchers = command.matchers or {}
    if matchers.get("source"):
        return matchers["source"]
    for candidate in (matchers.get("alert_id"), command.alert_id):
        if candidate:
            with contextlib.suppress(ValueError):
                return alert_source(candidate)
    return matchers.get("group") or "silence"


def audit_user(role: str, label: str = "") -> str:
    """The ``user`` recorded on a command: the role, and the token's configured label
    (``IOC_OPERATOR_LABEL``) when there is one. A name the client declares is never part of
    it: nothing verifies it until personal accounts exist.

    >>> audit_user("operator"), audit_user("operator", "north-desk")
    ('operator', 'operator:north-desk')
    """
    label = label.strip()
    return f"{role}:{label}" if label else role


def build_command(req: CommandRequest, *, role: str, now: float, command_id: str,
                  known: Callable[[str], bool] | None = None, label: str = "",
                  max_silence_s: float = MAX_SILENCE_S,
                  operators_may_silence_broadly: bool = False, user: str | None = None,
                  display_name: str | None = None) -> Command:
    """Turn a client's command into a validated :class:`~ioc.events.Command`; raise
    :class:`ProtocolError` (``forbidden`` or ``invalid_command``) naming the field.

    ``known(alert_id)``, when given, says whether the server knows that alert. ``user`` is
    the signed-in principal's (``role:login``, with its ``display_name``), else
    :func:`audit_user` of ``role`` and ``label``; the request's ``name`` is ignored. A
    silence longer than ``max_silence_s`` is invalid; one broader than a group, a district or
    an alert is forbidden to operators unless ``operators_may_silence_broadly``
    (:func:`ioc.events.check_silence_policy`, which the worker applies again).
    """
    _check_request(req, role, known)
    until = _until(req, now, max_silence_s)
    try:
        command = Command(command_id=command_id, action=req.action,  # type: ignore[arg-type]
                          user=user or audit_user(role, label), ts=now, reason=req.reason,
                          alert_id=req.alert_id, matchers=req.matchers, until=until,
                          text=req.text, silence_id=req.silence_id, display_name=display_name,
                          label=req.label)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ProtocolError("invalid_command", exc.field, exc.reason, req.ref) from None
    try:
        check_silence_policy(command, max_silence_s=max_silence_s,
                             operators_may_silence_broadly=operators_may_silence_broadly)
    except ValidationError as exc:
        field = "duration_s" if exc.field == "until" and req.duration_s is not None \
            else exc.field
        code: ErrorCode = "forbidden" if exc.field == "matchers" else "invalid_command"
        raise ProtocolError(code, field, exc.reason, req.ref) from None
    return command


def _check_request(req: CommandRequest, role: str, known: Callable[[str], bool] | None) -> None:
    """Refuse a role that cannot command, an unknown action, a bad or unknown alert id and a
    silence id on anything but ``unsilence``."""
    ref = req.ref
    if role not in COMMAND_ROLES:
        raise ProtocolError("forbidden", "action", f"the {role} role cannot send commands",
                            ref)
    if req.action not in ACTIONS:
        raise ProtocolError("invalid_command", "action",
                            f"unknown action {req.action!r:.40} (expected "
                            f"{', '.join(ACTIONS)})", ref)
    if req.alert_id is not None:
        try:
            alert_source(req.alert_id)
        except ValueError as exc:
            raise ProtocolError("invalid_command", "alert_id", str(exc), ref) from None
        if known is not None and not known(req.alert_id):
            raise ProtocolError("invalid_command", "alert_id",
                                f"no such alert {req.alert_id!r:.120}", ref)
    if req.silence_id is not None and req.action != "unsilence":
        raise ProtocolError("invalid_command", "silence_id",
                            f"only `unsilence` takes a silence_id, not `{req.action}`", ref)


def _until(req: CommandRequest, now: float, max_silence_s: float) -> float | None:
    """A silence's end (exactly one of ``until`` or ``duration_s``); other actions take
    neither, nor matchers."""
    ref = req.ref
    if req.action == "silence":
        if (req.until is None) == (req.duration_s is None):
            raise ProtocolError("invalid_command", "until",
                                "`silence` needs exactly one of `until` or `duration_s`", ref)
        if req.duration_s is None:
            return req.until
        if not 0 < req.duration_s <= max_silence_s:
            raise ProtocolError("invalid_command", "duration_s",
                                f"must be within 0..{max_silence_s:g} seconds", ref)
        return now + req.duration_s
    if req.until is not None or req.duration_s is not None or req.matchers is not None:
        raise ProtocolError("invalid_command",
                            "matchers" if req.matchers is not None else "until",
                            f"only `silence` takes matchers and an end time, not "
                            f"`{req.action}`", ref)
    return req.until
