"""The worker's agents of its own topics: commands, alert records and indicator parts.

Each hands its records to :class:`~streams.handlers.SideInputs` under the worker's lock and
sends what that queued on the :class:`~streams.publish.Outbox`:

``commands``    ``ioc.commands``: ack, resolve, note, silence through the alert book (sent
                before the lock is released: an operator's command is rare and its answer
                ordered with the worker's other records).
``incidents``   ``ioc.alerts`` (keyed by district): the incident linker.
``indicators``  the internal indicator-parts topic, in batches (a message is one part or a pack
                of a key's parts): merged group indicators per district.

The incident linker's and indicator merger's inputs are small and frequent (hundreds of parts
a second): they hand their records to the producer after releasing the lock, since a hand-over
can wait for the broker (holding the lock through it kept the events agent waiting for 7 % of a
dense run's wall time). Flushes still run one at a time, in order, and a record is
acknowledged only after its flush.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams.handlers import SideInputs, decode_alert_record, decode_parts

if TYPE_CHECKING:
    import faust

    from streams.indicators import IndicatorPart
    from streams.publish import Outbox

__all__ = ["SideAgents"]


class SideAgents:
    """The three agents' bodies. ``lock()`` is the worker's lock; ``parts_merged(n)`` counts
    the parts taken in (``ioc_worker_indicator_parts_total{stage="merged"}``; an undecodable
    message counts one)."""

    def __init__(self, inputs: SideInputs, outbox: Outbox, lock: Callable[[], asyncio.Lock],
                 parts_merged: Callable[[int], None], *, batch_messages: int,
                 batch_within: float) -> None:
        self.inputs = inputs
        self.outbox = outbox
        self.lock = lock
        self.parts_merged = parts_merged
        self.batch_messages = batch_messages
        self.batch_within = batch_within

    async def commands(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            msg = event.message
            async with self.lock():
                self.inputs.command(event.value, topic=msg.topic, partition=msg.partition,
                                    offset=msg.offset)
                await self.outbox.send()

    async def incidents(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            rec = decode_alert_record(event.value)
            if rec is not None:
                async with self.lock():
                    self.inputs.alert(rec)
                    self.outbox.queue()
                await self.outbox.flush()

    async def indicators(self, stream: faust.StreamT) -> None:
        # in batches: a window close sends a part per group and district; one by one, the
        # lock and the flush per part cost more than the merge (at the catalog's cadence the
        # merge ran behind the events, and its backlog grew with the input)
        take: Any = stream.take_events  # type: ignore[attr-defined]  # faust-streaming
        async for events in take(self.batch_messages, within=self.batch_within):
            parts: list[IndicatorPart] = []
            undecodable = 0
            for got in map(decode_parts, (e.value for e in events)):
                if got is None:
                    undecodable += 1
                else:
                    parts += got
            async with self.lock():
                self.inputs.parts(parts)
                self.outbox.queue()
            await self.outbox.flush()  # the batch is acknowledged once this returns
            self.parts_merged(len(parts) + undecodable)
