"""The ingest file (``IOC_INGEST_CONFIG``, TOML): the MQTT brokers to subscribe to and the
mappings from topics to readings. Loading is pure but for reading the file (and the files it
names: a password file, certificates), and every mistake is one :class:`ConfigError` line
naming the table and the field.

>>> cfg = IngestConfig.from_toml('''
... [[broker]]
... url = "mqtt://127.0.0.1:1883"
... client_id = "bridge-1"
... [[mapping]]
... topic = "danang/flood/{district}/{source}"
... group = "flooding"
... source = "{source}"
... district = "{district}"
... [[mapping.metrics]]
... metric = "flood_depth"
... value = "$"
... ''')
>>> b = cfg.brokers[0]
>>> (b.host, b.port, b.tls, b.protocol, b.qos), cfg.subscriptions()
(('127.0.0.1', 1883, False, '3.1.1', 1), ['danang/flood/+/+'])
>>> IngestConfig.from_toml('[[broker]]\\nurl = "http://x"\\n[[mapping]]\\n')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ioc.errors.ConfigError: broker[0].url: use mqtt://host[:port] or mqtts://host[:port], ...
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.mapping import Mapping, Outcome
from ioc.errors import ConfigError

_BROKER_FIELDS = {"name", "url", "client_id", "protocol", "username", "password",
                  "password_file", "ca_file", "cert_file", "key_file", "insecure", "keepalive_s",
                  "session_expiry_s", "qos", "topics"}


@dataclass(frozen=True)
class BrokerConfig:
    """One MQTT broker: where, how to sign in, TLS, the session."""

    name: str
    host: str
    port: int
    tls: bool
    client_id: str
    protocol: str = "3.1.1"          # or "5"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False           # TLS without checking the server's name (tests only)
    keepalive_s: int = 30
    session_expiry_s: int = 86_400   # MQTT 5: how long the broker keeps the session offline
    qos: int = 1
    topics: tuple[str, ...] = ()     # subscribe to these only (default: every mapping's)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def _read_file(where: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None


def _broker(table: dict[str, Any], i: int, base: Path) -> BrokerConfig:
    where = f"broker[{i}]"
    unknown = sorted(set(table) - _BROKER_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} (fields: "
                          f"{', '.join(sorted(_BROKER_FIELDS))})")
    url = str(table.get("url", ""))
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or port == -1:
        raise ConfigError(f"{where}.url: use mqtt://host[:port] or mqtts://host[:port], "
                          f"got {url[:80]!r}")
    tls = parts.scheme == "mqtts"
    protocol = str(table.get("protocol", "3.1.1"))
    if protocol not in ("3.1.1", "5"):
        raise ConfigError(f"{where}.protocol: \"3.1.1\" or \"5\", got {protocol!r}")
    files: dict[str, str | None] = {}
    for key in ("ca_file", "cert_file", "key_file"):
        value = table.get(key)
        if value is not None:
            path = (base / str(value)) if not Path(str(value)).is_absolute() else Path(value)
            if not path.is_file():
                raise ConfigError(f"{where}.{key}: no such file {path}")
            if not tls:
                raise ConfigError(f"{where}.{key}: certificates need an mqtts:// url")
            files[key] = str(path)
    if "key_file" in files and "cert_file" not in files:
        raise ConfigError(f"{where}.key_file: needs cert_file (the client certificate)")
    password = table.get("password")
    if "password_file" in table:
        password = _read_file(f"{where}.password_file", str(base / str(table["password_file"])))
    if password is not None and table.get("username") is None:
        raise ConfigError(f"{where}.password: needs a username")
    qos = table.get("qos", 1)
    if qos not in (0, 1):
        raise ConfigError(f"{where}.qos: 1 (no loss) or 0 (a broker without QoS 1), got {qos!r}")
    client_id = str(table.get("client_id", ""))
    if not client_id or len(client_id) > 128:
        raise ConfigError(f"{where}.client_id: required (1-128 characters): the persistent "
                          "session is the client id's")
    return BrokerConfig(
        name=str(table.get("name", f"broker{i}")), host=parts.hostname, tls=tls,
        port=port or (8883 if tls else 1883), client_id=client_id, protocol=protocol,
        username=table.get("username"), password=password, insecure=bool(table.get("insecure")),
        keepalive_s=int(table.get("keepalive_s", 30)),
        session_expiry_s=int(table.get("session_expiry_s", 86_400)), qos=int(qos),
        topics=tuple(table.get("topics", ())), **files)


@dataclass(frozen=True)
class IngestConfig:
    """The brokers and mappings of one ingest file."""

    brokers: tuple[BrokerConfig, ...]
    mappings: tuple[Mapping, ...]

    @classmethod
    def from_toml(cls, text: str, base: Path = Path(".")) -> IngestConfig:
        """Parse the file's text (relative paths in it are relative to ``base``)."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}") from None
        unknown = sorted(set(doc) - {"broker", "mapping"})
        if unknown:
            raise ConfigError(f"unknown table {unknown[0]!r} (tables: [[broker]], [[mapping]])")
        brokers = doc.get("broker", [])
        mappings = doc.get("mapping", [])
        if not isinstance(mappings, list) or not mappings:
            raise ConfigError("no [[mapping]] table: nothing would become a reading")
        return cls(tuple(_broker(b, i, base) for i, b in enumerate(brokers)),
                   tuple(Mapping.from_table(m, f"mapping[{i}]") for i, m in enumerate(mappings)))

    @classmethod
    def load(cls, path: str | Path) -> IngestConfig:
        """Read and parse ``path``; ConfigError (naming IOC_INGEST_CONFIG) when it fails."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"IOC_INGEST_CONFIG: cannot read {p}: "
                              f"{exc.strerror or exc}") from None
        try:
            return cls.from_toml(text, p.parent)
        except ConfigError as exc:
            raise ConfigError(f"IOC_INGEST_CONFIG {p}: {exc}") from None

    def subscriptions(self, broker: BrokerConfig | None = None) -> list[str]:
        """The topic filters to subscribe to, each once."""
        if broker is not None and broker.topics:
            return list(dict.fromkeys(broker.topics))
        return list(dict.fromkeys(m.pattern.subscription for m in self.mappings))

    def groups(self) -> tuple[str, ...] | None:
        """The groups the mappings write (None: some mapping takes it from the message)."""
        out: list[str] = []
        for m in self.mappings:
            g = m.groups
            if g is None:
                return None
            out.extend(g)
        return tuple(dict.fromkeys(out))

    def map(self, topic: str, raw: bytes, arrival: float) -> Outcome:
        """The readings of one message by the first mapping whose pattern matches."""
        for m in self.mappings:
            caps = m.match(topic)
            if caps is not None:
                return m.readings(topic, raw, arrival, caps)
        out = Outcome()
        out.errors.append(("$", f"no mapping for topic {topic[:200]!r}"))
        return out
