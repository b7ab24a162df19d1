"""The silences in force, as the wall lists them: made by ``silence`` commands the worker's
policy accepts (the same checks, :func:`ioc.events.check_silence_policy`), lifted by
``unsilence`` commands, forgotten once they end. Pure and synchronous.

>>> from ioc.events import Command
>>> s = Silences(max_silence_s=86_400.0, operators_may_silence_broadly=False)
>>> cmd = Command(command_id="c1", action="silence", user="operator", ts=0.0,
...               matchers={"group": "traffic", "district": "Son Tra"}, until=600.0)
>>> s.apply(cmd, as_of=0.0, district_of=lambda alert_id: None)
(True, None)
>>> [v.silence_id for v in s.active(as_of=60.0)], s.active(as_of=600.0)
(['c1'], [])
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from ioc.errors import ValidationError
from ioc.events import Command, SilenceRecord, check_silence_policy


class SilenceView(SilenceRecord, frozen=True, kw_only=True, tag="silence"):
    """A silence as the wall lists it (tagged ``silence`` in frames): made by ``silence``
    command ``silence_id``, lifted by an ``unsilence`` or ended at ``until``.
    ``alert_district``: the district of the alert its ``alert_id`` matcher names, when the
    dashboard knows it (so that scopes place the silence; None otherwise)."""

    alert_district: str | None = None


class Silences:
    """The silences held: in force or lifted, until they end."""

    def __init__(self, *, max_silence_s: float, operators_may_silence_broadly: bool) -> None:
        self.max_silence_s = max_silence_s
        self.operators_may_silence_broadly = operators_may_silence_broadly
        self.views: dict[str, SilenceView] = {}

    def apply(self, cmd: Command, *, as_of: float,
              district_of: Callable[[str], str | None]) -> tuple[bool, SilenceView | None]:
        """``silence`` adds a view (when the policy accepts it, as the worker does);
        ``unsilence`` marks it lifted; other commands change nothing here. Returns (whether
        it changed anything, the view it replaced)."""
        if cmd.action == "silence" and cmd.matchers and cmd.until is not None:
            if cmd.command_id in self.views:
                return False, None
            try:
                check_silence_policy(
                    cmd, max_silence_s=self.max_silence_s,
                    operators_may_silence_broadly=self.operators_may_silence_broadly)
            except ValidationError:
                return False, None  # the worker refuses it too (dead-lettered there)
            self._prune(as_of)
            self.views[cmd.command_id] = SilenceView(
                silence_id=cmd.command_id, matchers=dict(cmd.matchers), until=cmd.until,
                user=cmd.user, reason=cmd.reason, created=cmd.ts, display_name=cmd.display_name,
                alert_district=district_of(cmd.matchers.get("alert_id", "")))
            return True, None
        if cmd.action == "unsilence" and cmd.silence_id:
            held = self.views.get(cmd.silence_id)
            if held is None or held.lifted_at is not None:
                return False, None
            self.views[cmd.silence_id] = msgspec.structs.replace(
                held, lifted_at=cmd.ts, lifted_by=cmd.user, lifted_by_name=cmd.display_name)
            return True, held
        return False, None

    def of(self, cmd: Command) -> SilenceView | None:
        """The view a ``silence``/``unsilence`` command made or changed."""
        if cmd.action == "silence":
            return self.views.get(cmd.command_id)
        if cmd.action == "unsilence" and cmd.silence_id:
            return self.views.get(cmd.silence_id)
        return None

    def matchers(self, silence_id: str) -> dict[str, str] | None:
        """The matchers of a silence held (in force or lifted), else None."""
        held = self.views.get(silence_id)
        return dict(held.matchers) if held is not None else None

    def active(self, *, as_of: float) -> list[SilenceView]:
        """Silences in force (not lifted, not ended at ``as_of``), ending soonest first."""
        return sorted((s for s in self.views.values()
                       if s.lifted_at is None and s.until > as_of),
                      key=lambda s: (s.until, s.silence_id))

    def _prune(self, as_of: float) -> None:
        if as_of:
            for sid in [k for k, s in self.views.items() if s.until <= as_of]:
                del self.views[sid]
