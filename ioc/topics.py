"""Kafka topic names: one events topic per service group plus five shared topics
(``ioc.shadow`` carries what detectors in shadow mode would have raised: never read by the
wall or the notifier).

>>> events_topic("flooding")
'ioc.flooding.events'
>>> group_of_topic("ioc.flooding.events")
'flooding'
>>> ALERTS, INDICATORS, COMMANDS, DEADLETTER, SHADOW
('ioc.alerts', 'ioc.indicators', 'ioc.commands', 'ioc.deadletter', 'ioc.shadow')
"""

from __future__ import annotations

PREFIX = "ioc"
ALERTS = "ioc.alerts"
INDICATORS = "ioc.indicators"
COMMANDS = "ioc.commands"
DEADLETTER = "ioc.deadletter"
SHADOW = "ioc.shadow"
SHARED_TOPICS = (ALERTS, INDICATORS, COMMANDS, DEADLETTER, SHADOW)


def events_topic(group: str) -> str:
    """Name of the topic that carries a service group's readings."""
    return f"{PREFIX}.{group}.events"


def group_of_topic(topic: str) -> str | None:
    """The group slug of an events topic, or ``None`` for any other topic."""
    parts = topic.split(".")
    if len(parts) == 3 and parts[0] == PREFIX and parts[2] == "events":
        return parts[1]
    return None
