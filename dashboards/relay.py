"""The command relay: a client's command request becomes an audited
:class:`~ioc.events.Command` written to Kafka (``ioc.commands``); the worker applies it and
the result comes back through the feed like any other record.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from aiokafka.errors import KafkaError

from archive.accounts import Principal
from dashboards import commands, protocol
from dashboards import scope as scoping
from dashboards.feed import Feed
from dashboards.metrics import DashboardMetrics
from dashboards.protocol import ProtocolError
from dashboards.state import State
from ioc.settings import Settings

log = logging.getLogger("ioc.dashboard")

Known = Callable[[str], bool] | None


class CommandRelay:
    """Validate, stamp and write commands; ``known()`` gives the alert-id check once the
    state has caught up (None before: an id cannot be refused as unknown yet). ``state``
    tells the districts of alerts and the silences held, so that a scoped principal's
    command is checked against its scope (without a state, a scoped principal's commands on
    alerts are refused: nothing proves them in scope)."""

    def __init__(self, feed: Feed, settings: Settings, metrics: DashboardMetrics,
                 known: Callable[[], Known], state: State | None = None) -> None:
        self.feed = feed
        self.settings = settings
        self.metrics = metrics
        self.known = known
        self.state = state or State()

    async def relay(self, principal: Principal, req: protocol.CommandRequest) -> bytes:
        """Write ``req`` (from ``principal``'s connection: its role and scope decide, its
        login and display name are recorded) and return the ``accepted`` frame. Raise
        :class:`ProtocolError` when it is refused (``forbidden``, also
        :class:`~dashboards.scope.OutOfScope`; ``invalid_command``) or Kafka did not take it
        within the timeout (``unavailable``): then nothing is written."""
        settings = self.settings
        person = principal.kind == "user"
        if principal.role in protocol.COMMAND_ROLES and not principal.scope.city_wide:
            scoping.check_command(principal.scope, req, district_of=self.state.district_of,
                                  silence_of=self.state.silence_matchers)
        command = commands.build_command(
            req, role=principal.role, now=time.time(), command_id=uuid.uuid4().hex,
            known=self.known(), user=principal.audit_user,
            display_name=principal.display_name if person else None,
            max_silence_s=settings.max_silence_s,
            operators_may_silence_broadly=settings.operators_may_silence_broadly)
        try:
            await self.feed.send_command(command, commands.command_key(command),
                                         timeout=protocol.COMMAND_TIMEOUT_S)
        except (TimeoutError, KafkaError, OSError) as exc:
            log.warning("command %s (%s) not written to %s: %s", command.command_id,
                        command.action, self.feed.topics.commands, type(exc).__name__)
            raise ProtocolError("unavailable", None,
                                "Kafka did not accept the command; try again",
                                req.ref) from None
        self.metrics.commands.labels(action=command.action).inc()
        log.info("command %s %s by %s", command.action, command.command_id, command.user)
        return protocol.frame({"type": "accepted", "ref": req.ref,
                               "command_id": command.command_id})
