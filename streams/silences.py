"""Silences: operator commands that hold matching alerts ``silenced`` until an end time.

A silence is made from a ``silence`` :class:`~ioc.events.Command`: its ``matchers`` name alert
fields (``alert_id``, ``group``, ``district``, ``source``, ``metric``, ``detector``,
``category``, ``severity``) that must all be equal, its ``until`` the end time (epoch seconds,
compared with the worker's stream clock). An ``unsilence`` command lifts it before then
(:meth:`SilenceBook.lift`): the silence stays stored, marked lifted, until its end time, so a
replayed ``silence`` or ``unsilence`` command changes nothing. How long and how broad a
silence may be is a :class:`SilencePolicy` (``IOC_MAX_SILENCE_S``,
``IOC_OPERATORS_MAY_SILENCE_BROADLY``), which the alert book applies before it adds one.

Silences live in a mapping passed in: the worker passes a Faust **GlobalTable** (every
worker sees every silence; create it with ``value_type=bytes, value_serializer="raw"``), tests
pass a dict. Values are msgpack bytes of :class:`Silence`, keyed by the command's
``command_id``, so adding the same command twice is a no-op.

Pure code: no Faust, no I/O; the alert book (:mod:`streams.lifecycle`) asks :meth:`SilenceBook.
match` whether a firing alert is recorded ``firing`` or ``silenced``.

>>> from ioc.events import Command
>>> book = SilenceBook({})
>>> cmd = Command(command_id="c1", action="silence", user="lan", ts=100.0, reason="pump works",
...               matchers={"group": "wastewater", "district": "Son Tra"}, until=4000.0)
>>> book.add(cmd).silence_id
'c1'
>>> fields = {"group": "wastewater", "district": "Son Tra", "source": "ww-ST-01"}
>>> book.match(fields, now=200.0).reason
'pump works'
>>> book.match({**fields, "district": "Hai Chau"}, now=200.0) is None
True
>>> book.match(fields, now=4000.0) is None  # ended
True
>>> lift = Command(command_id="c2", action="unsilence", user="operator", ts=300.0,
...                silence_id="c1")
>>> book.lift(lift).lifted_by, book.match(fields, now=400.0) is None
('operator', True)
>>> book.purge(now=5000.0)
['c1']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from msgspec.structs import replace

from ioc.errors import ValidationError
from ioc.events import SILENCE_FIELDS, Command, SilenceRecord, check_silence_policy

if TYPE_CHECKING:
    from ioc.settings import Settings

__all__ = ["Silence", "SilenceBook", "SilencePolicy"]


@dataclass(frozen=True, kw_only=True)
class SilencePolicy:
    """How long and how broad a silence may be (see :func:`ioc.events.check_silence_policy`).

    >>> cmd = Command(command_id="c1", action="silence", user="operator", ts=0.0,
    ...               until=90_000.0, matchers={"group": "traffic"})
    >>> SilencePolicy().check(cmd)
    Traceback (most recent call last):
    ...
    ioc.errors.ValidationError: until: a silence may last at most 86400 s, this one 90000 s
    """

    max_silence_s: float = 86_400.0
    operators_may_silence_broadly: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> SilencePolicy:
        """The policy of ``IOC_MAX_SILENCE_S`` and ``IOC_OPERATORS_MAY_SILENCE_BROADLY``."""
        return cls(max_silence_s=settings.max_silence_s,
                   operators_may_silence_broadly=settings.operators_may_silence_broadly)

    def check(self, cmd: Command) -> None:
        """Raise :class:`~ioc.errors.ValidationError` for a silence this policy refuses."""
        check_silence_policy(cmd, max_silence_s=self.max_silence_s,
                             operators_may_silence_broadly=self.operators_may_silence_broadly)


class Silence(SilenceRecord, frozen=True, kw_only=True):
    """One silence (the fields of :class:`~ioc.events.SilenceRecord`) and its rules."""

    def active(self, now: float) -> bool:
        """True while the silence has not ended (``now < until``) nor been lifted."""
        return self.lifted_at is None and now < self.until

    def covers(self, fields: Mapping[str, str]) -> bool:
        """True when every matcher equals the same field of ``fields``."""
        return all(fields.get(k) == v for k, v in self.matchers.items())


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(Silence)


class SilenceBook:
    """The silences of a deployment, held in ``store`` (silence id -> msgpack bytes).

    Decoded silences are cached per stored value, so :meth:`match` on the hot path costs one
    pass over the (few) silences without decoding them again.
    """

    def __init__(self, store: MutableMapping[str, bytes]) -> None:
        self.store = store
        self._cache: dict[str, tuple[bytes, Silence]] = {}

    def add(self, cmd: Command) -> Silence:
        """Store the silence a ``silence`` command asks for and return it.

        Idempotent: a command already stored (same ``command_id``) is returned unchanged.
        Raise :class:`~ioc.errors.ValidationError` for a command that is not a valid silence.
        """
        if cmd.action != "silence":
            raise ValidationError("action", f"expected a `silence` command, got {cmd.action!r}")
        if not cmd.matchers or cmd.until is None:
            raise ValidationError("matchers", "`silence` needs matchers and an end time")
        unknown = set(cmd.matchers) - SILENCE_FIELDS
        if unknown:
            raise ValidationError("matchers", f"unknown fields {sorted(unknown)}")
        held = self.get(cmd.command_id)
        if held is not None:
            return held
        silence = Silence(silence_id=cmd.command_id, matchers=dict(cmd.matchers),
                          until=float(cmd.until), user=cmd.user, reason=cmd.reason,
                          created=cmd.ts, display_name=cmd.display_name)
        self.store[silence.silence_id] = _ENC.encode(silence)
        return silence

    def lift(self, cmd: Command) -> Silence:
        """Lift the silence an ``unsilence`` command names and return it (marked lifted).

        Idempotent: a silence already lifted is returned unchanged. Raise
        :class:`~ioc.errors.ValidationError` (field ``silence_id``) for a silence this store
        does not hold (never made, or ended and purged).
        """
        if cmd.action != "unsilence" or not cmd.silence_id:
            raise ValidationError("action", f"expected an `unsilence` command, got {cmd.action!r}")
        held = self.get(cmd.silence_id)
        if held is None:
            raise ValidationError("silence_id", f"no silence {cmd.silence_id!r:.80} (never made, "
                                  "or ended and purged)")
        if held.lifted_at is not None:
            return held
        lifted = replace(held, lifted_at=cmd.ts, lifted_by=cmd.user,
                         lifted_by_name=cmd.display_name)
        self.store[lifted.silence_id] = _ENC.encode(lifted)
        return lifted

    def get(self, silence_id: str) -> Silence | None:
        """The silence stored under ``silence_id``, or None."""
        raw = self.store.get(silence_id)
        if raw is None:
            return None
        cached = self._cache.get(silence_id)
        if cached is not None and cached[0] == raw:
            return cached[1]
        silence = _DEC.decode(raw)
        self._cache[silence_id] = (raw, silence)
        return silence

    def __iter__(self) -> Iterator[Silence]:
        for sid in list(self.store):
            s = self.get(sid)
            if s is not None:
                yield s

    def active(self, now: float) -> list[Silence]:
        """Silences still in force at ``now``, ending soonest first."""
        return sorted((s for s in self if s.active(now)), key=lambda s: (s.until, s.silence_id))

    def match(self, fields: Mapping[str, str], now: float) -> Silence | None:
        """The active silence covering an alert with these ``fields``, or None.

        When several match, the one ending last wins (ties: the highest id), so the answer
        does not depend on the store's iteration order.
        """
        best: Silence | None = None
        for s in self:
            if s.active(now) and s.covers(fields) and (
                    best is None or (s.until, s.silence_id) > (best.until, best.silence_id)):
                best = s
        return best

    def purge(self, now: float) -> list[str]:
        """Delete silences that ended before ``now`` (lifted ones too, once their end time
        has passed); return their ids (sorted).

        Only one agent should purge a shared store (the command agent); matching ignores
        ended silences anyway, so purging is housekeeping, not correctness.
        """
        gone = sorted(s.silence_id for s in self if now >= s.until)
        for sid in gone:
            self.store.pop(sid, None)
            self._cache.pop(sid, None)
        return gone
