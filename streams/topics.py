"""The worker's topics: names (``ioc.topics``, optionally under another prefix) and Faust
topic objects.

Topic names come from :mod:`ioc.topics`; a worker may be given another *prefix* (``ioc`` by
default) so that tests, or two deployments on one cluster, keep their topics apart:
``TopicNames("t42").events("flooding") == "t42.flooding.events"``.

Every topic the worker reads or writes carries raw bytes: the worker decodes packs itself
(:mod:`streams.ingest`), and encodes records with :func:`ioc.events.encode`.

>>> n = TopicNames()
>>> n.events("flooding"), n.alerts, n.group_of("ioc.flooding.events")
('ioc.flooding.events', 'ioc.alerts', 'flooding')
>>> TopicNames("t42").group_of("ioc.flooding.events") is None
True
>>> len(n.specs(Settings(partitions=2)))
20
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ioc import catalog, topics
from ioc.errors import ConfigError
from ioc.kafka.admin import TopicSpec, topic_specs
from ioc.settings import Settings

if TYPE_CHECKING:
    import faust

__all__ = ["TABLES", "TopicNames", "WorkerTopics", "changelog_specs", "parts_spec"]

# the worker's Faust tables (streams.tables.WorkerTables), each with its changelog topic
TABLES = ("series", "alerts", "incidents", "indicators", "silences", "offsets")

_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class TopicNames:
    """Names of the topics a worker uses, under ``prefix`` (``ioc``: the standard names)."""

    prefix: str = topics.PREFIX

    def __post_init__(self) -> None:
        if not self.prefix or not set(self.prefix) <= _OK or len(self.prefix) > 100:
            raise ConfigError(f"topic prefix must be 1-100 of [A-Za-z0-9._-], got "
                              f"{self.prefix!r}")

    def _name(self, standard: str) -> str:
        return f"{self.prefix}{standard[len(topics.PREFIX):]}"

    def events(self, group: str) -> str:
        return self._name(topics.events_topic(group))

    @property
    def alerts(self) -> str:
        return self._name(topics.ALERTS)

    @property
    def indicators(self) -> str:
        return self._name(topics.INDICATORS)

    @property
    def commands(self) -> str:
        return self._name(topics.COMMANDS)

    @property
    def deadletter(self) -> str:
        return self._name(topics.DEADLETTER)

    @property
    def shadow(self) -> str:
        return self._name(topics.SHADOW)

    def all_events(self) -> list[str]:
        return [self.events(g) for g in catalog.GROUP_SLUGS]

    def group_of(self, topic: str) -> str | None:
        """The group of one of this worker's events topics, else None."""
        head = f"{self.prefix}."
        if not (topic.startswith(head) and topic.endswith(".events")):
            return None
        g = topic[len(head):-len(".events")]
        return g if g in catalog.GROUPS else None

    def specs(self, settings: Settings) -> list[TopicSpec]:
        """Topic specs (partitions, retention) for :func:`ioc.kafka.admin.ensure_topics`."""
        return [replace(s, name=self._name(s.name)) for s in topic_specs(settings)]


def parts_spec(settings: Settings) -> TopicSpec:
    """The app's internal indicator-parts topic. The worker creates it before Faust starts:
    Faust declares it only as its agents start, and a consumer that subscribed before then
    misses it until a metadata refresh (minutes), so the first windows' indicators stall."""
    return TopicSpec(f"{settings.app_id}-indicator-parts", settings.partitions,
                     settings.replication_factor)


def changelog_specs(settings: Settings) -> list[TopicSpec]:
    """The tables' changelog topics (compacted, as Faust makes them). The worker creates them
    before Faust starts, for the reason of :func:`parts_spec`: a first worker that subscribed
    to a changelog before Faust declared it logged "Ignoring missing topic" and its recovery
    waited for a metadata refresh.

    >>> [s.name for s in changelog_specs(Settings(app_id="ioc", partitions=2))][:2]
    ['ioc-series-changelog', 'ioc-alerts-changelog']
    """
    return [TopicSpec(f"{settings.app_id}-{t}-changelog", settings.partitions,
                      settings.replication_factor, {"cleanup.policy": "compact"})
            for t in TABLES]


class WorkerTopics:
    """The Faust topic objects of one app."""

    def __init__(self, app: faust.App, names: TopicNames, settings: Settings) -> None:
        raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes,
                               "key_serializer": "raw", "value_serializer": "raw"}
        self.names = names
        self.events = app.topic(*names.all_events(), **raw)
        self.alerts = app.topic(names.alerts, **raw)
        self.indicators = app.topic(names.indicators, **raw)
        self.commands = app.topic(names.commands, **raw)
        self.deadletter = app.topic(names.deadletter, **raw)
        # internal: per-partition indicator parts, keyed group:district (see indicators.py)
        parts = parts_spec(settings)
        self.parts = app.topic(parts.name, internal=True, partitions=parts.partitions,
                               replicas=parts.replication_factor, **raw)
