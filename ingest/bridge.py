"""``ioc ingest mqtt``: subscribe to MQTT brokers and forward readings to Kafka, losing none.

One :class:`MqttLink` per ``[[broker]]`` of the ingest file, all sharing one Kafka producer
(idempotent, ``acks=all``). For every message the link (on paho's network thread):

1. maps it to readings (:mod:`ingest.mapping`); what cannot be mapped becomes a
   :class:`~ioc.events.DeadLetter` on ``ioc.deadletter`` (topic ``mqtt:<MQTT topic>``,
   partition and offset ``-1``, the raw payload, the reason), counted;
2. produces the readings to ``ioc.<group>.events``, one record (a reading or a pack) per
   (group, source), keyed by source id, with the message's identity in the headers
   (:mod:`ingest.dedupe`);
3. acknowledges the message to the MQTT broker (QoS 1, manual acks, a persistent session)
   only once Kafka confirmed every record made from it, in the order messages arrived
   (:mod:`ingest.acks`). A message whose records Kafka refused is never acknowledged: the
   bridge stops with the reason and its session gets it again on the next start.

A redelivered (``dup``) message whose records are already in Kafka is acknowledged without
producing them again (:mod:`ingest.dedupe`).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from ingest.acks import InOrderAcks
from ingest.config import BrokerConfig, IngestConfig
from ingest.dedupe import BRIDGE_HEADER, DIGEST_HEADER, TOPIC_HEADER, Seen, digest
from ingest.records import dead_letter_of, records_of
from ioc.errors import BrokerError, ConfigError

log = logging.getLogger("ioc.ingest")

CONNECT_TIMEOUT_S = 15.0


class BridgeMetrics:
    """The bridge's counters, declared once on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter("ioc_ingest_mqtt_messages_total",
                                "MQTT messages received, by broker", ["broker"],
                                registry=registry)
        self.readings = Counter("ioc_ingest_readings_total",
                                "Readings produced to Kafka, by path and group",
                                ["path", "group"], registry=registry)
        self.dead = Counter("ioc_ingest_deadletters_total",
                            "Messages or items refused and dead-lettered, by path",
                            ["path"], registry=registry)
        self.duplicates = Counter("ioc_ingest_mqtt_duplicates_total",
                                  "Redelivered MQTT messages already in Kafka (not produced again)",
                                  ["broker"], registry=registry)


def kafka_producer(bootstrap: str, client_id: str = "ioc-ingest") -> Any:
    """An idempotent kafka-python producer with ``acks=all``; BrokerError if unreachable."""
    from kafka import KafkaProducer

    try:
        return KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, acks="all",
                             enable_idempotence=True, linger_ms=5, batch_size=256 * 1024,
                             max_in_flight_requests_per_connection=5, retries=2**31 - 1,
                             delivery_timeout_ms=120_000, max_block_ms=30_000)
    except Exception as exc:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {str(exc)[:200]}") from None


def _tls(client: Any, b: BrokerConfig) -> None:
    try:
        client.tls_set(ca_certs=b.ca_file, certfile=b.cert_file, keyfile=b.key_file,
                       cert_reqs=ssl.CERT_REQUIRED)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"broker {b.name}: TLS set-up failed ({b.ca_file or 'system CAs'}"
                          f"{', ' + b.cert_file if b.cert_file else ''}): "
                          f"{getattr(exc, 'reason', None) or exc}") from None
    if b.insecure:
        client.tls_insecure_set(True)


class MqttLink:
    """One MQTT broker's subscription, forwarding to Kafka."""

    def __init__(self, config: IngestConfig, broker: BrokerConfig, producer: Any, *,
                 metrics: BridgeMetrics, seen: Seen, prefix: str = "ioc",
                 max_inflight: int = 1000, on_error: Callable[[str], None]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.config, self.broker, self.producer = config, broker, producer
        self.metrics, self.seen, self.prefix, self.on_error = metrics, seen, prefix, on_error
        self.acks: InOrderAcks[tuple[int, int]] = InOrderAcks()
        self.epoch = 0
        self.stopping = False
        self.connected = threading.Event()
        self.refused: str | None = None
        v5 = broker.protocol == "5"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=broker.client_id,
            clean_session=None if v5 else False,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=True)
        if broker.username is not None:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            _tls(self.client, broker)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._pending_subs = 0
        self._max_inflight = max_inflight
        self._received = metrics.messages.labels(broker=broker.name)  # children looked up once
        self._dead = metrics.dead.labels(path="mqtt")
        self._by_group: dict[str, Any] = {}
        self._expired_at = 0.0
        self._bridge_id = broker.client_id.encode()

    # --- connection ------------------------------------------------------------------------
    def start(self, timeout: float = CONNECT_TIMEOUT_S) -> None:
        """Connect and subscribe; BrokerError (one line) when the broker refuses or is not
        there within ``timeout``."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        b = self.broker
        props = None
        kwargs: dict[str, Any] = {}
        if b.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = b.session_expiry_s
            props.ReceiveMaximum = min(self._max_inflight, 65535)
            kwargs = {"clean_start": False, "properties": props}
        try:
            self.client.connect(b.host, b.port, keepalive=b.keepalive_s, **kwargs)
        except ssl.SSLCertVerificationError as exc:
            raise BrokerError(f"broker {b.name} ({b.url}): TLS handshake failed: the broker's "
                              f"certificate: {exc.verify_message} (is ca_file the CA that "
                              "signed it, and the url's host the name in it?)") from None
        except ssl.SSLError as exc:
            raise BrokerError(f"broker {b.name} ({b.url}): TLS handshake failed: "
                              f"{exc.reason or exc}") from None
        except OSError as exc:
            raise BrokerError(f"broker {b.name} ({b.url}): cannot connect: "
                              f"{exc.strerror or exc}") from None
        self.client.loop_start()
        if not self.connected.wait(timeout) or self.refused:
            self.client.loop_stop()
            why = self.refused or f"no answer within {timeout:g} s"
            raise BrokerError(f"broker {b.name} ({b.url}): connection refused: {why}")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            hint = " (check username/password)" if "auth" in str(reason).lower() or \
                "password" in str(reason).lower() else ""
            self.refused = f"{reason}{hint}"
            self.connected.set()
            client.disconnect()
            return
        self.epoch += 1
        filters = self.config.subscriptions(self.broker)
        self._pending_subs = len(filters)
        for topic in filters:
            client.subscribe(topic, qos=self.broker.qos)
        log.info("broker %s: connected (session present: %s)", self.broker.name,
                 getattr(flags, "session_present", "?"))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        bad = [str(r) for r in reasons if r.is_failure]
        if bad and not self.connected.is_set():
            self.refused = f"subscription refused: {bad[0]} (check the broker's ACL)"
        self._pending_subs -= 1
        if self._pending_subs <= 0 or self.refused:
            self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        self.epoch += 1  # acks owed on the old connection can no longer be sent
        if not self.connected.is_set():  # dropped before it was accepted: say so at once
            hint = " (does it want a client certificate? cert_file and key_file)" \
                if self.broker.tls and self.broker.cert_file is None else ""
            self.refused = f"the broker closed the connection before accepting it{hint}"
            self.connected.set()
            return
        if not self.stopping:
            log.warning("broker %s: disconnected (%s); reconnecting", self.broker.name, reason)

    def stop(self) -> None:
        """Stop taking messages, let Kafka confirm what is owed, send those acks, disconnect."""
        self.stopping = True
        deadline = time.monotonic() + 10
        while len(self.acks) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()

    # --- messages --------------------------------------------------------------------------
    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if self.stopping:
            return  # not acknowledged: the session gets it again
        self._received.inc()
        key = digest(msg.topic, msg.payload)
        token = (self.epoch, msg.mid)
        needs_ack = msg.qos > 0
        if msg.dup and key in self.seen:
            self.metrics.duplicates.labels(broker=self.broker.name).inc()
            if needs_ack:
                self._ack(self.acks.add(token, 0))
            return
        arrival = time.time()
        if arrival - self._expired_at >= 1.0:  # the dedupe memory is this thread's alone
            self.seen.expire(arrival)
            self._expired_at = arrival
        outcome = self.config.map(msg.topic, msg.payload, arrival)
        headers = [(BRIDGE_HEADER, self._bridge_id), (DIGEST_HEADER, key),
                   (TOPIC_HEADER, msg.topic.encode()[:512])]
        records = records_of(outcome.readings, self.prefix)
        for err in outcome.errors:
            records.append(dead_letter_of(msg.topic, msg.payload, err, arrival, self.prefix))
            self._dead.inc()
        for r in outcome.readings:
            counter = self._by_group.get(r.group)
            if counter is None:
                counter = self._by_group[r.group] = self.metrics.readings.labels(
                    path="mqtt", group=r.group)
            counter.inc()
        if needs_ack:
            self.acks.add(token, len(records) + 1)  # +1: held until every send is queued
        try:
            for topic, rkey, value in records:
                fut = self.producer.send(topic, key=rkey, value=value, headers=headers)
                if needs_ack:
                    fut.add_callback(lambda _meta, t=token: self._ack(self.acks.confirm(t)))
                fut.add_errback(self._failed)
        except Exception as exc:
            self._failed(exc)
            return
        self.seen.add(key, arrival)
        if needs_ack:
            self._ack(self.acks.confirm(token))

    def _ack(self, ready: list[tuple[int, int]]) -> None:
        for epoch, mid in ready:
            if epoch == self.epoch:
                self.client.ack(mid, self.broker.qos)

    def _failed(self, exc: BaseException) -> None:
        self.on_error(f"Kafka refused readings from broker {self.broker.name}: "
                      f"{str(exc)[:200] or type(exc).__name__} (not acknowledged to MQTT: "
                      "they come again on the next start)")
