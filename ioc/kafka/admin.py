"""Topic administration: create every ioc-monitor topic, idempotently.

The topics are one ``ioc.<group>.events`` per service group (``settings.partitions``
partitions each) and the four shared topics ``ioc.alerts``, ``ioc.indicators``,
``ioc.commands`` and ``ioc.deadletter``. Each gets ``cleanup.policy=delete`` and the retention
its setting names: ``ioc.alerts`` is an audit trail, so it is never compacted (compaction would
keep only the last record per alert) and keeps every record for ``IOC_ALERTS_RETENTION_HOURS``.
Topics that already exist are left exactly as they are and reported.

>>> specs = {s.name: s for s in topic_specs(Settings(partitions=6))}
>>> len(specs), specs["ioc.flooding.events"].partitions
(20, 6)
>>> specs["ioc.alerts"].configs
{'cleanup.policy': 'delete', 'retention.ms': '2592000000'}
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ioc import topics
from ioc.errors import BrokerError
from ioc.settings import Settings

ADMIN_TIMEOUT_S = 30.0
_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicSpec:
    """A topic as ioc-monitor wants it."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicReport:
    """What :func:`create_topics` did: topics it created and topics it found in place."""

    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    # existing topics whose partition count differs from the settings: name -> actual count
    mismatched: dict[str, int] = field(default_factory=dict)

    def lines(self) -> Iterator[str]:
        """Human-readable lines, one per topic, then a summary."""
        for name in self.created:
            yield f"created  {name}"
        for name in self.existing:
            note = ""
            if name in self.mismatched:
                note = f"  (has {self.mismatched[name]} partitions; left as is)"
            yield f"exists   {name}{note}"
        yield f"{len(self.created)} created, {len(self.existing)} already present"


def _groups() -> tuple[str, ...]:
    from ioc.catalog import GROUP_SLUGS

    return GROUP_SLUGS


def topic_specs(settings: Settings, groups: Iterable[str] | None = None) -> list[TopicSpec]:
    """Every topic ioc-monitor uses, with partitions and configs from ``settings``."""

    def spec(name: str, hours: float) -> TopicSpec:
        configs = {"cleanup.policy": "delete", "retention.ms": str(settings.retention_ms(hours))}
        return TopicSpec(name, settings.partitions, settings.replication_factor, configs)

    out = [spec(topics.events_topic(g), settings.events_retention_hours)
           for g in (_groups() if groups is None else groups)]
    out += [
        spec(topics.ALERTS, settings.alerts_retention_hours),
        spec(topics.INDICATORS, settings.indicators_retention_hours),
        spec(topics.COMMANDS, settings.alerts_retention_hours),
        spec(topics.DEADLETTER, settings.deadletter_retention_hours),
        spec(topics.SHADOW, settings.alerts_retention_hours),
    ]
    return out


@contextlib.contextmanager
def admin_client(bootstrap: str, timeout: float = ADMIN_TIMEOUT_S) -> Iterator[Any]:
    """A kafka-python ``KafkaAdminClient``; an unreachable broker is a one-line BrokerError."""
    from kafka.admin import KafkaAdminClient

    ms = max(int(timeout * 1000), 1000)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="ioc-admin",
                                 bootstrap_timeout_ms=ms, request_timeout_ms=ms)
    except Exception:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: no broker answered within "
                          f"{timeout:g} s") from None
    try:
        yield admin
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def _reason(exc: BaseException, default: str) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    if not text:
        return default
    name = type(exc).__name__
    return (text if text.startswith(name) else f"{name}: {text}")[:300]


def ensure_topics(specs: Sequence[TopicSpec], bootstrap: str,
                  timeout: float = ADMIN_TIMEOUT_S) -> TopicReport:
    """Create the topics of ``specs`` that are missing; leave the others alone."""
    with admin_client(bootstrap, timeout) as admin:
        try:
            present = set(admin.list_topics())
        except Exception as exc:
            raise BrokerError(f"cannot list topics on {bootstrap}: "
                              f"{_reason(exc, 'no answer')}") from None
        missing = [s for s in specs if s.name not in present]
        existing = [s.name for s in specs if s.name in present]
        created: list[str] = []
        if missing:
            request = {s.name: {"num_partitions": s.partitions,
                                "replication_factor": s.replication_factor,
                                "configs": dict(s.configs)} for s in missing}
            try:
                result = admin.create_topics(request, timeout_ms=int(timeout * 1000),
                                             raise_errors=False)
            except Exception as exc:
                raise BrokerError(f"cannot create topics on {bootstrap}: "
                                  f"{_reason(exc, 'no answer')}") from None
            for item in result.get("topics", []):
                code = item.get("error_code", 0)
                if code == 0:
                    created.append(item["name"])
                elif code == _TOPIC_ALREADY_EXISTS:  # created meanwhile by someone else
                    existing.append(item["name"])
                else:
                    why = item.get("error_message") or f"error code {code}"
                    raise BrokerError(f"cannot create topic {item['name']} on {bootstrap}: {why}")
            if created:
                try:
                    admin.wait_for_topics(created, timeout_ms=int(timeout * 1000))
                except Exception as exc:
                    raise BrokerError(f"topics created on {bootstrap} but not ready: "
                                      f"{_reason(exc, 'timed out')}") from None
        mismatched: dict[str, int] = {}
        if existing:
            wanted = {s.name: s.partitions for s in specs}
            with contextlib.suppress(Exception):
                for info in admin.describe_topics(existing):
                    count = len(info.get("partitions") or [])
                    if count and count != wanted.get(info.get("name"), count):
                        mismatched[info["name"]] = count
    order = {s.name: i for i, s in enumerate(specs)}
    return TopicReport(created=tuple(sorted(created, key=order.__getitem__)),
                       existing=tuple(sorted(existing, key=order.__getitem__)),
                       mismatched=mismatched)


def create_topics(settings: Settings, bootstrap: str | None = None,
                  timeout: float = ADMIN_TIMEOUT_S) -> TopicReport:
    """Create every ioc-monitor topic that is missing on ``bootstrap`` (default:
    ``settings.kafka_bootstrap``). Running it again is a no-op that reports them all present."""
    target = bootstrap or settings.kafka_bootstrap
    if not target:
        raise BrokerError("no Kafka broker given: pass --bootstrap HOST:PORT or set "
                          "IOC_KAFKA_BOOTSTRAP (`ioc broker` starts an embedded one)")
    return ensure_topics(topic_specs(settings), target, timeout)


def list_topics(bootstrap: str, timeout: float = ADMIN_TIMEOUT_S,
                include_internal: bool = False) -> dict[str, int]:
    """Topic name -> partition count, sorted by name (internal ``__*`` topics left out)."""
    with admin_client(bootstrap, timeout) as admin:
        try:
            infos = admin.describe_topics()
        except Exception as exc:
            raise BrokerError(f"cannot list topics on {bootstrap}: "
                              f"{_reason(exc, 'no answer')}") from None
    out = {}
    for info in infos:
        name = info.get("name")
        if not name or (not include_internal and (info.get("is_internal")
                                                  or name.startswith("__"))):
            continue
        out[name] = len(info.get("partitions") or [])
    return dict(sorted(out.items()))
