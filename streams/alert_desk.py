"""Alert records made outside a window close, and the open alerts every record updates.

An operator command (acknowledge, resolve, silence, ...) and the ticker's silences and
duration escalation change alerts between closes; :class:`AlertDesk` applies them to the
:class:`~streams.lifecycle.AlertBook` and returns the records to publish. Every published
record, from a close or from here, passes :meth:`AlertDesk.published`, which keeps the
:class:`~streams.openalerts.OpenAlerts` (the indicator roll-ups' and the gauge's counts) and
the alert metrics.

>>> from streams.lifecycle import AlertBook
>>> from streams.silences import SilenceBook
>>> desk = AlertDesk(AlertBook({}), SilenceBook({}))
>>> desk.tick(float("-inf")), desk.open_alert_counts()
([], {})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ioc.events import Alert, Command
from streams.lifecycle import OPEN, AlertBook
from streams.openalerts import OpenAlerts
from streams.silences import SilenceBook

if TYPE_CHECKING:
    from streams.metrics import WorkerMetrics

__all__ = ["AlertDesk"]


class AlertDesk:
    """Commands and ticks on ``book`` (with ``silences``), and the open alerts (``open``)."""

    def __init__(self, book: AlertBook, silences: SilenceBook, *,
                 metrics: WorkerMetrics | None = None) -> None:
        self.book = book
        self.silences = silences
        self.metrics = metrics
        self.open = OpenAlerts()

    def published(self, records: Sequence[Alert], partition: int) -> None:
        """Follow records on their way out (they came from ``partition``)."""
        self.open.record(records, partition)
        m = self.metrics
        if m is not None:
            for a in records:
                m.alert(a.group, a.severity, a.status)

    def command(self, cmd: Command, partition: int, now: float) -> list[Alert]:
        """Apply an operator command at the worker's clock ``now`` (ValidationError for an
        alert this worker lacks); returns the records to publish."""
        records = self.book.command(cmd, now=max(now, cmd.ts), silences=self.silences)
        self.published(records, partition)
        return records

    def tick(self, now: float) -> list[Alert]:
        """Silences and duration escalation at the worker's clock ``now``; returns the
        records to publish."""
        if now == -math.inf:
            return []
        records = self.book.tick(now, self.silences)
        for a in records:
            self.published([a], self.open.partition_of(a.alert_id))
        return records

    def rebuild(self, partition_of: Callable[[Alert], int | None]) -> None:
        """Recount open alerts from the alert book (after a restore)."""
        self.open.clear()
        for a in self.book.alerts():
            if a.status in OPEN:
                p = partition_of(a)
                if p is not None:
                    self.open.record([a], p)

    def open_alert_counts(self) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity) on this worker (the gauge)."""
        return self.open.per_group_severity()
