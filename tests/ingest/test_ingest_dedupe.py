"""Reading the bridge's digests back from a real Kafka (``ingest.dedupe.recent_digests``):
only this bridge's records count, and a read-back cut short by its time limit says so."""

from __future__ import annotations

import logging
import time

import pytest
from ingestkit import Topics

from ingest.dedupe import BRIDGE_HEADER, DIGEST_HEADER, digest, recent_digests


def _write(topics: Topics, bridge: bytes, payloads: list[bytes]) -> list[bytes]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=topics.bootstrap, acks="all")
    keys = [digest("t/rain/1", p) for p in payloads]
    try:
        for key, payload in zip(keys, payloads, strict=True):
            producer.send(topics.events("flooding"), key=b"rain-1", value=payload,
                          headers=[(BRIDGE_HEADER, bridge), (DIGEST_HEADER, key)])
        producer.flush(30)
    finally:
        producer.close(5)
    return keys


def _ingest_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The bridge's own warnings: kafka-python's client logs its slow selector tasks too."""
    return [record for record in caplog.records if record.name.startswith("ioc.ingest")]


def test_read_back_finds_this_bridges_digests_and_warns_when_cut_short(
        topics: Topics, caplog: pytest.LogCaptureFixture) -> None:
    mine = _write(topics, b"bridge-a", [b"1", b"2", b"3"])
    _write(topics, b"bridge-b", [b"4"])
    since = time.time() - 600
    with caplog.at_level(logging.WARNING, logger="ioc.ingest"):
        found = recent_digests(topics.bootstrap, [topics.events("flooding")], "bridge-a", since)
    assert sorted(key for key, _at in found) == sorted(mine)
    assert not _ingest_warnings(caplog)
    with caplog.at_level(logging.WARNING, logger="ioc.ingest"):
        cut = recent_digests(topics.bootstrap, [topics.events("flooding")], "bridge-a", since,
                             timeout_s=0)
    assert cut == []
    (warning,) = _ingest_warnings(caplog)
    text = warning.getMessage()
    assert text.startswith("dedupe read-back stopped after 0 s: 0 record(s) read, 4 left "
                           "unread in 1 of 2 partition(s)"), text
    assert "produced again" in text
