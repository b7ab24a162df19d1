"""TLS on a real Mosquitto: a server certificate from a CA of the test's own and client
certificates required; the bridge signs in with its certificate, and without one (or trusting
another CA) it stops with one line."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from waits import wait_until

from ioc.kafka.broker import free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None or (shutil.which(
    "mosquitto") is None and not Path("/usr/sbin/mosquitto").exists()),
    reason="needs openssl and mosquitto (scripts/test.sh installs mosquitto)")

MAPPING = '''
[[mapping]]
topic = "tls/{source}"
group = "flooding"
source = "{source}"
district = "Hai Chau"
[[mapping.metrics]]
metric = "flood_depth"
value = "$"
'''


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(d: Path) -> None:
    """ca.pem; server.pem/.key for 127.0.0.1; client.pem/.key; other-ca.pem (unrelated)."""
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", f"/CN=ioc test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                 cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
                 "-keyout", f"{who}.key", "-out", f"{who}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{who}.pem",
                 *(["-extfile", "san.ext"] if who == "server" else []), cwd=d)


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[tuple[str, Path]]:
    """``mqtts://127.0.0.1:PORT`` of a Mosquitto that requires client certificates."""
    d = Path(tempfile.mkdtemp(prefix="ioc-mqtt-tls-"))
    _certificates(d)
    port = free_port()
    (d / "m.conf").write_text(
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
        f"cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
        "require_certificate true\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                             str(d / "m.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0
    try:
        wait_until(listening, 30, "the TLS broker")
        yield f"mqtts://127.0.0.1:{port}", d
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(d, ignore_errors=True)


def _config(tmp_path: Path, url: str, d: Path, extra: str) -> Path:
    path = tmp_path / "ingest.toml"
    path.write_text(f'[[broker]]\nurl = "{url}"\nclient_id = "tls-{tmp_path.name}"\n{extra}\n'
                    + MAPPING)
    return path


def _bridge(config: Path, bootstrap: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ioc", "ingest", "mqtt", "--config",
                             str(config), "--bootstrap", bootstrap],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def test_a_client_certificate_signs_the_bridge_in(tls_broker: tuple[str, Path],
                                                  tmp_path: Path, kafka_bootstrap: str) -> None:
    url, d = tls_broker
    config = _config(tmp_path, url, d, f'ca_file = "{d}/ca.pem"\ncert_file = "{d}/client.pem"\n'
                                       f'key_file = "{d}/client.key"')
    log = tmp_path / "bridge.log"
    proc = _bridge(config, kafka_bootstrap, log)
    try:
        wait_until(lambda: b"bridge:" in log.read_bytes() or proc.poll() is not None, 60,
                   "the bridge to connect over TLS")
        assert proc.poll() is None, log.read_text()
        assert "mqtts://127.0.0.1" in log.read_text()
    finally:
        proc.terminate()
        assert proc.wait(60) == 0, log.read_text()


@pytest.mark.parametrize(("extra", "expected"), [
    ('ca_file = "{d}/ca.pem"', "does it want a client certificate?"),
    ('ca_file = "{d}/other-ca.pem"\ncert_file = "{d}/client.pem"\nkey_file = "{d}/client.key"',
     "TLS handshake failed: the broker's certificate: "),
    ('ca_file = "{d}/ca.pem"\ncert_file = "{d}/client.pem"\nkey_file = "{d}/other-ca.key"',
     "TLS set-up failed"),
])
def test_tls_mistakes_are_one_line(tls_broker: tuple[str, Path], tmp_path: Path,
                                   kafka_bootstrap: str, extra: str, expected: str) -> None:
    """No client certificate, a CA that did not sign the server's, a key that is not the
    certificate's."""
    url, d = tls_broker
    config = _config(tmp_path, url, d, extra.replace("{d}", str(d)))
    done = subprocess.run([sys.executable, "-m", "ioc", "ingest", "mqtt", "--config",
                           str(config), "--bootstrap", kafka_bootstrap], capture_output=True,
                          text=True, timeout=90)
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("ioc: error")]
    assert done.returncode != 0 and len(lines) == 1 and "Traceback" not in done.stderr, \
        done.stderr
    assert expected in lines[0], lines[0]
