"""The worker's other inputs, one call per record: operator commands, alert records (for the
incident linker) and indicator parts (for the indicator merger).

``ioc.commands``   ack, resolve, note, silence through the pipeline's alert book; a command
                   refused (malformed, unknown alert, refused silence) is dead-lettered.
``ioc.alerts``     alert records (keyed by district) feed the incident linker; incidents
                   and undecodable records are skipped (workers write this topic).
indicator parts    merged into group indicators per district.

What they produce is queued on the :class:`~streams.publish.Outbox`; the agents send it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from ioc.errors import ValidationError
from ioc.events import Alert, Incident, decode_alert, decode_command
from streams.indicators import PARTS_DECODER, IndicatorPart

if TYPE_CHECKING:
    from streams.deadletters import DeadLetterSink
    from streams.incidents import IncidentLinker
    from streams.indicators import IndicatorMerger
    from streams.pipeline import Pipeline
    from streams.publish import Outbox

__all__ = ["SideInputs", "decode_alert_record", "decode_parts"]


def decode_alert_record(value: Any) -> Alert | None:
    """An alert record of ``ioc.alerts`` (None for an incident or anything undecodable).

    >>> decode_alert_record(b"{not json") is None, decode_alert_record(None) is None
    (True, True)
    """
    if not isinstance(value, bytes):
        return None
    try:
        rec = decode_alert(value)
    except ValidationError:
        return None  # not ours to judge: the alert topic is written by workers
    return None if isinstance(rec, Incident) else rec


def decode_parts(value: Any) -> list[IndicatorPart] | None:
    """The indicator parts of a parts-topic message, one or a pack (None for anything
    undecodable).

    >>> decode_parts(b"[]"), decode_parts(b"{}")
    ([], None)
    """
    try:
        got = PARTS_DECODER.decode(value)
    except (msgspec.DecodeError, TypeError):
        return None
    return got if isinstance(got, list) else [got]


class SideInputs:
    """Commands, alert records and indicator parts in; records queued on ``outbox``."""

    def __init__(self, pipeline: Pipeline, linker: IncidentLinker, merger: IndicatorMerger,
                 outbox: Outbox, dead: DeadLetterSink) -> None:
        self.pipeline = pipeline
        self.linker = linker
        self.merger = merger
        self.outbox = outbox
        self.dead = dead

    def command(self, value: Any, *, topic: str, partition: int, offset: int) -> bool:
        """Apply one command message; False if it was refused (and dead-lettered). The
        records it changes come out of the pipeline with its next output."""
        raw = value if isinstance(value, bytes) else b""
        try:
            self.pipeline.command(decode_command(raw), partition)
        except ValidationError as exc:
            self.dead.command(topic, partition, offset, raw, exc, time.time())
            return False
        return True

    def alert(self, rec: Alert) -> None:
        """Link an alert record into incidents; queue the incidents that changed."""
        self.outbox.alerts(self.linker.on_alert(rec))

    def parts(self, parts: list[IndicatorPart]) -> None:
        """Merge indicator parts, in order; queue the group indicators they complete."""
        for ind in self.merger.add_many(parts):
            self.outbox.indicator(ind)
            self.pipeline.indicator(ind)  # the group's multivariate model in that district
