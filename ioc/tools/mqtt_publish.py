"""The simulator's MQTT side: some groups' readings published as field sensors would, the
rest still produced straight to Kafka.

:class:`MqttSplitSink` wraps a Kafka sink: a message of a group in ``groups`` is published
reading by reading to ``<root>/<group>/<district-slug>/<source>/<metric>`` with the payload
``{"value": ..., "ts": ...}`` (and ``lat``/``lon`` when known); ``ioc ingest mqtt`` with
:data:`DEMO_MAPPING` turns them back into readings. The URL may say ``?qos=0`` (a broker
without QoS 1, like the demo's) and ``?protocol=5``.

>>> mqtt_topic("danang", "flooding", "Hai Chau", "rain-HC-01", "rainfall")
'danang/flooding/hai-chau/rain-HC-01/rainfall'
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ioc.errors import BrokerError, UsageError
from ioc.events import encode
from ioc.tools.producer import Sink
from ioc.tools.simulator import Message

DEMO_MAPPING = '''
[[mapping]]
topic = "{root}/{group}/{district}/{source}/{metric}"
group = "{group}"
source = "{source}"
district = "{district}"
ts = "$.ts"
lat = "$.lat"
lon = "$.lon"
[[mapping.metrics]]
metric = "{metric}"
value = "$.value"
'''


def mqtt_topic(root: str, group: str, district: str, source: str, metric: str) -> str:
    """The MQTT topic a simulated sensor publishes a metric on."""
    slug = re.sub(r"[^a-z0-9]+", "-", district.lower()).strip("-")
    return f"{root}/{group}/{slug}/{source}/{metric}"


class MqttSplitSink:
    """Readings of ``groups`` to MQTT at ``url``, everything else to ``kafka``."""

    def __init__(self, kafka: Sink, url: str, groups: tuple[str, ...], *,
                 root: str = "danang", client_id: str = "ioc-simulator") -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise UsageError(f"IOC_SIMULATOR_MQTT_URL: use mqtt://host:port, got {url!r}")
        self.kafka, self.groups, self.root = kafka, frozenset(groups), root
        self.url = url
        self.qos = int((query.get("qos") or ["1"])[0])
        v5 = (query.get("protocol") or ["3.1.1"])[0] == "5"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        try:
            self.client.connect(parts.hostname, parts.port or 1883)
        except OSError as exc:
            raise BrokerError(f"cannot reach the MQTT broker at {url}: "
                              f"{exc.strerror or exc}") from None
        self.client.loop_start()
        self.published = 0
        self._last: Any = None

    def send(self, message: Message) -> None:
        first = message.readings[0]
        if first.group not in self.groups:
            self.kafka.send(message)
            return
        for r in message.readings:
            body: dict[str, Any] = {"value": r.value, "ts": r.ts}
            if r.lat is not None and r.lon is not None:
                body["lat"], body["lon"] = r.lat, r.lon
            self._last = self.client.publish(
                mqtt_topic(self.root, r.group, r.district, r.source, r.metric), encode(body),
                qos=self.qos)
            self.published += 1

    def flush(self) -> None:
        """Wait until Kafka and the MQTT broker took everything sent; BrokerError (one line)
        when the MQTT broker went away first (the demo stops its children together)."""
        self.kafka.flush()
        if self._last is not None:
            try:
                self._last.wait_for_publish(30)
            except (RuntimeError, ValueError) as exc:
                raise BrokerError(f"MQTT broker {self.url}: the last readings were not "
                                  f"published: {exc}") from None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.kafka.close()
