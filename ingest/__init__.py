"""Ingest: the front door for field sensors and partner systems.

* :mod:`ingest.topics`, :mod:`ingest.mapping`, :mod:`ingest.config`: the ingest file
  (``IOC_INGEST_CONFIG``) and how an MQTT message becomes readings (pure);
* :mod:`ingest.acks`: which MQTT messages may be acknowledged, in order, once Kafka has their
  readings; :mod:`ingest.dedupe`: redelivered messages recognised and not produced twice;
* :mod:`ingest.bridge`: ``ioc ingest mqtt``, the MQTT-to-Kafka bridge;
* :mod:`ingest.http`: ``ioc ingest http``, ``POST /api/v1/readings``;
* :mod:`ingest.broker`: the demo's embedded MQTT broker.

Imports only the kernel (``ioc``), ``ioc.kafka`` and ``archive`` (API keys).
"""
