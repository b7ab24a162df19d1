"""``ioc ingest mqtt`` as a real process: kill -9 loses nothing; configuration, TLS and
sign-in mistakes are one line on stderr, without a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from ingestkit import Publisher, Topics, config_text
from waits import wait_until

from ioc.kafka.broker import free_port

COUNTED = '''
[[mapping]]
topic = "{prefix}/n/{source}"
group = "flooding"
source = "{source}"
district = "Hai Chau"
ts = "$.ts"
[[mapping.metrics]]
metric = "rainfall"
value = "$.n"
'''


def _bridge(config: Path, topics: Topics, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ioc", "ingest", "mqtt", "--config", str(config),
         "--bootstrap", topics.bootstrap, "--topic-prefix", topics.prefix],
        stdout=subprocess.DEVNULL, stderr=log.open("ab"),
        env={**os.environ, "IOC_LOG_LEVEL": "WARNING"})


def _stored(topics: Topics, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=topics.bootstrap, group_id=None)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_kill_9_while_10000_messages_arrive_loses_none(
        mqtt_url: str, topics: Topics, tmp_path: Path, protocol: str) -> None:
    """The bridge (MQTT 3.1.1 or 5, QoS 1, a persistent session) is killed with SIGKILL a few
    thousand messages into 10,000 numbered QoS 1 messages and started again: every number is
    in Kafka, and exactly once (the redelivered ones that Kafka already had are recognised and
    acknowledged, not produced again)."""
    prefix = f"k{uuid.uuid4().hex[:8]}"
    config = tmp_path / "ingest.toml"
    config.write_text(config_text(mqtt_url, f"bridge-{prefix}",
                                  COUNTED.replace("{prefix}", prefix),
                                  f'protocol = "{protocol}"'))
    log = tmp_path / "bridge.log"
    first = _bridge(config, topics, log)
    try:
        wait_until(lambda: b"bridge:" in log.read_bytes() or first.poll() is not None, 60,
                   "the bridge to subscribe")
        assert first.poll() is None, log.read_text()
        total = 10_000
        pub = Publisher(mqtt_url, client_id=f"pub-{prefix}")
        sender = threading.Thread(target=pub.send_all, args=([
            (f"{prefix}/n/rain-{i % 7}", json.dumps({"n": i, "ts": 1795410000 + i // 10}))
            for i in range(total)], 300))
        sender.start()
        events = topics.events("flooding")
        wait_until(lambda: _stored(topics, events) >= 2000, 120, "2,000 readings in Kafka")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        second = _bridge(config, topics, log)
        try:
            sender.join(300)
            wait_until(lambda: _stored(topics, events) >= total, 180, "10,000 readings")
            numbers = sorted(int(r.value or 0) for r in topics.readings("flooding"))
            assert numbers == list(range(total)), (
                f"missing {sorted(set(range(total)) - set(numbers))[:20]}, "
                f"{len(numbers) - len(set(numbers))} duplicate(s)")
        finally:
            second.terminate()
            assert second.wait(60) == 0, log.read_text()[-2000:]
        pub.close()
    finally:
        if first.poll() is None:
            first.kill()


def _run(config_text_: str, tmp_path: Path, bootstrap: str, timeout: float = 60) -> tuple[
        int, str]:
    path = tmp_path / "ingest.toml"
    path.write_text(config_text_)
    done = subprocess.run([sys.executable, "-m", "ioc", "ingest", "mqtt", "--config", str(path),
                           "--bootstrap", bootstrap], capture_output=True, text=True,
                          timeout=timeout)
    return done.returncode, done.stderr


TOWER = COUNTED.replace("{prefix}", "cfg")


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.startswith("ioc: error")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_configuration_mistakes_are_one_line(tmp_path: Path, kafka_bootstrap: str) -> None:
    """A missing CA file, a key without its certificate, a bad url, a broken mapping."""
    cases = {
        'url = "mqtts://127.0.0.1:8883"\nclient_id = "x"\nca_file = "nope.pem"':
            "broker[0].ca_file: no such file",
        'url = "mqtts://127.0.0.1:8883"\nclient_id = "x"\nkey_file = "/etc/hostname"':
            "broker[0].key_file: needs cert_file",
        'url = "tcp://127.0.0.1"\nclient_id = "x"': "broker[0].url: use mqtt://",
        'url = "mqtt://127.0.0.1"\nclient_id = "x"\npassword = "p"':
            "broker[0].password: needs a username",
    }
    for broker, expected in cases.items():
        status, err = _run(f"[[broker]]\n{broker}\n{TOWER}", tmp_path, kafka_bootstrap)
        assert status == 2 and expected in _one_line(err), err
    status, err = _run('[[broker]]\nurl = "mqtt://127.0.0.1"\nclient_id = "x"\n'
                       + TOWER.replace('"{source}"', '"{sensor}"'), tmp_path, kafka_bootstrap)
    assert status == 2 and "{sensor} is not a capture of the topic" in _one_line(err)


def test_tls_to_a_plain_listener_is_one_line(mqtt_url: str, tmp_path: Path,
                                             kafka_bootstrap: str) -> None:
    """mqtts:// to a listener that does not speak TLS: the handshake fails, said in one line."""
    port = urlsplit(mqtt_url).port
    status, err = _run(f'[[broker]]\nurl = "mqtts://127.0.0.1:{port}"\nclient_id = "tls-x"\n'
                       f'ca_file = "/etc/ssl/certs/ca-certificates.crt"\n{TOWER}', tmp_path,
                       kafka_bootstrap)
    line = _one_line(err)
    assert status == 1 and ("TLS handshake failed" in line or "cannot connect" in line), err


@pytest.fixture
def password_broker() -> Iterator[tuple[str, str]]:
    """A Mosquitto of this test that wants user ``ioc`` with a password."""
    state = tempfile.mkdtemp(prefix="ioc-mqtt-auth-")
    password = uuid.uuid4().hex
    subprocess.run(["mosquitto_passwd", "-b", "-c", f"{state}/passwd", "ioc", password],
                   check=True, capture_output=True)
    port = free_port()
    Path(f"{state}/m.conf").write_text(
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
        f"password_file {state}/passwd\n")
    proc = subprocess.Popen(["mosquitto", "-c", f"{state}/m.conf"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        import socket

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0
        wait_until(listening, 30, "the password broker")
        yield f"mqtt://127.0.0.1:{port}", password
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_wrong_password_is_one_line_and_the_right_one_connects(
        mqtt_url: str, password_broker: tuple[str, str], tmp_path: Path,
        kafka_bootstrap: str) -> None:
    url, password = password_broker
    status, err = _run(f'[[broker]]\nurl = "{url}"\nclient_id = "auth-x"\nusername = "ioc"\n'
                       f'password = "wrong"\n{TOWER}', tmp_path, kafka_bootstrap)
    line = _one_line(err)
    assert status == 1 and "connection refused" in line and "username/password" in line, err
    (tmp_path / "secret").write_text(password + "\n")
    config = tmp_path / "ok.toml"
    config.write_text(f'[[broker]]\nurl = "{url}"\nclient_id = "auth-ok"\nusername = "ioc"\n'
                      f'password_file = "secret"\n{TOWER}')
    log = tmp_path / "ok.log"
    proc = subprocess.Popen([sys.executable, "-m", "ioc", "ingest", "mqtt", "--config",
                             str(config), "--bootstrap", kafka_bootstrap],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        wait_until(lambda: b"bridge:" in log.read_bytes() or proc.poll() is not None, 60,
                   "the bridge to sign in")
        assert proc.poll() is None, log.read_text()
    finally:
        proc.terminate()
        assert proc.wait(60) == 0, log.read_text()
