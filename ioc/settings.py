"""One frozen settings object, read from ``IOC_*`` environment variables.

This module is the only reader of ``os.environ`` in ioc-monitor. Every setting is declared once,
next to its variable and its documentation; the README's configuration table is generated from
the same declarations (:func:`settings_table`).

>>> s = Settings.from_env({"IOC_KAFKA_BOOTSTRAP": "kafka:9092", "IOC_PARTITIONS": "8"})
>>> s.kafka_bootstrap, s.partitions
('kafka:9092', 8)
>>> Settings.from_env({"IOC_PARTITIONS": "zero"})
Traceback (most recent call last):
...
ioc.errors.ConfigError: IOC_PARTITIONS: expected an integer, got 'zero'
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ioc.setting_values import parse_ack_sla, parse_value


def _setting(default: Any, env: str, doc: str, *, minimum: float | None = None,
             choices: tuple[str, ...] = ()) -> Any:
    meta = {"env": env, "doc": doc, "minimum": minimum, "choices": choices}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Typed, frozen configuration. Build it with :meth:`from_env`; change it with
    :func:`dataclasses.replace`."""

    # --- Kafka -----------------------------------------------------------------------------
    kafka_bootstrap: str | None = _setting(
        None, "IOC_KAFKA_BOOTSTRAP",
        "Kafka bootstrap servers `host:port[,host:port]`. Unset: `ioc demo` and `ioc broker` "
        "start the embedded broker.")
    partitions: int = _setting(
        4, "IOC_PARTITIONS", "Partitions of each events topic (the unit of worker parallelism).",
        minimum=1)
    replication_factor: int = _setting(
        1, "IOC_REPLICATION_FACTOR", "Replication factor of every topic ioc creates.", minimum=1)
    events_retention_hours: float = _setting(
        168.0, "IOC_EVENTS_RETENTION_HOURS", "Retention of the `ioc.<group>.events` topics.",
        minimum=0.01)
    alerts_retention_hours: float = _setting(
        720.0, "IOC_ALERTS_RETENTION_HOURS",
        "Retention of `ioc.alerts` and `ioc.commands` (the audit trail).", minimum=0.01)
    indicators_retention_hours: float = _setting(
        48.0, "IOC_INDICATORS_RETENTION_HOURS", "Retention of `ioc.indicators`.", minimum=0.01)
    deadletter_retention_hours: float = _setting(
        336.0, "IOC_DEADLETTER_RETENTION_HOURS", "Retention of `ioc.deadletter`.", minimum=0.01)

    # --- Workers ---------------------------------------------------------------------------
    app_id: str = _setting(
        "ioc-monitor", "IOC_APP_ID", "Faust application id: the consumer group of all workers.")
    processing_guarantee: str = _setting(
        "at_least_once", "IOC_PROCESSING_GUARANTEE",
        "`at_least_once` or `exactly_once` (needs a broker with transactions).",
        choices=("at_least_once", "exactly_once"))
    events_client: str = _setting(
        "auto", "IOC_EVENTS_CLIENT",
        "What reads the events topics: `librdkafka` (offsets kept with the series state, ~1 "
        "CPU s per 2M readings cheaper), `faust` (offsets in the group) or `auto`: `librdkafka`"
        ", but `faust` with `exactly_once`.", choices=("auto", "librdkafka", "faust"))
    data_dir: str = _setting(
        ".ioc-data", "IOC_DATA_DIR", "Directory for worker table state and local files.")
    worker_port: int = _setting(
        6066, "IOC_WORKER_PORT", "Worker web port (`/metrics`, `/healthz`).", minimum=0)
    worker_host: str = _setting(
        "127.0.0.1", "IOC_WORKER_HOST",
        "Address the worker's web port binds to (`0.0.0.0` in a container, so Prometheus can "
        "scrape it). It serves `/metrics` and `/healthz` only.")
    allowed_lateness_s: float = _setting(
        30.0, "IOC_ALLOWED_LATENESS_S",
        "How long after a window ends late readings are still counted into it.", minimum=0)
    resolve_after_windows: int = _setting(
        3, "IOC_RESOLVE_AFTER_WINDOWS",
        "Normal windows in a row after which a firing alert auto-resolves.", minimum=1)
    flap_window_s: float = _setting(
        900.0, "IOC_FLAP_WINDOW_S",
        "An alert that fires again this soon after resolving reopens (same id) instead of "
        "opening anew, and needs longer to auto-resolve (flap damping).", minimum=0)
    checkpoint_interval_s: float = _setting(
        2.0, "IOC_CHECKPOINT_INTERVAL_S",
        "How often a worker writes the state of the series whose windows closed to its "
        "changelog, then acknowledges the input they consumed (shorter: less to read again "
        "after a crash, more changelog writes).", minimum=0.05)
    recovery_stall_s: float = _setting(
        60.0, "IOC_RECOVERY_STALL_S",
        "A worker whose table recovery (after a rebalance) reads no changelog record for this "
        "long while records remain exits with status 75, for its supervisor to restart it "
        "(`ioc demo` does, and the compose file's `restart`). 0: never.", minimum=0)
    escalate_after_s: float = _setting(
        900.0, "IOC_ESCALATE_AFTER_S",
        "A firing, unacknowledged alert steps up one severity after this long.", minimum=1)
    incident_span_s: float = _setting(
        900.0, "IOC_INCIDENT_SPAN_S",
        "Alerts of different groups in one district within this span form an incident.",
        minimum=1)
    multivariate: str = _setting(
        "indicators", "IOC_MULTIVARIATE",
        "Live isolation-forest models: `indicators` (one per group and district: a fixed "
        "cost), `sources` (one per source measuring several metrics, such as an air station: "
        "costs grow with the fleet), `all` or `off`. `ioc demo` runs `all`. "
        "Tune them under `[params.isolation_forest]` of the detector config.",
        choices=("all", "sources", "indicators", "off"))
    detectors_config: str | None = _setting(
        None, "IOC_DETECTORS_CONFIG",
        "Optional TOML file choosing detectors and policies per group/metric.")
    require_plugins: bool = _setting(
        False, "IOC_REQUIRE_PLUGINS",
        "Refuse to start a worker when a detector plugin fails to load (else warn).")

    # --- Event time and series bounds (streams.ingest, streams.windows, streams.budget) ---
    max_future_s: float = _setting(
        300.0, "IOC_MAX_FUTURE_S",
        "A reading dated more than this many seconds ahead of the worker's wall clock is "
        "dead-lettered (`future`) and moves no clock. Raise it (with `IOC_CLOCK_LEAD_S`) only "
        "for compressed-time simulation (`ioc simulate --rate` above the natural rate).",
        minimum=0)
    clock_lead_s: float = _setting(
        0.0, "IOC_CLOCK_LEAD_S",
        "How far a partition's event-time clock may run ahead of the wall clock. 0: readings "
        "from a sensor whose clock is fast count into their windows but never make the "
        "readings of other sensors late.", minimum=0)
    max_clock_jump_s: float = _setting(
        86_400.0, "IOC_MAX_CLOCK_JUMP_S",
        "A reading more than this many seconds ahead of its partition's clock is "
        "dead-lettered (`clock_jump`) and moves no clock, unless 100 such readings come in "
        "a row (a real gap in a replay). A day: a live partition's idle clock follows the "
        "wall clock, so only replays see such gaps, and a replay of ordinary history (nights, "
        "outages of hours) has none that long.", minimum=1)
    max_unregistered_series: int = _setting(
        200_000, "IOC_MAX_UNREGISTERED_SERIES",
        "Series (source, metric) of sources outside the catalog one worker tracks at most "
        "(about 1.5 KB each); readings that would open more are dead-lettered "
        "(`series_limit`).", minimum=0)
    max_series_per_prefix: int = _setting(
        10_000, "IOC_MAX_SERIES_PER_PREFIX",
        "Series of unregistered sources one source-id prefix (the id without its trailing "
        "digits, up to its last `-`) may open per group and worker.", minimum=1)
    max_new_series_per_message: int = _setting(
        1_000, "IOC_MAX_NEW_SERIES_PER_MESSAGE",
        "Series of unregistered sources one message may open.", minimum=1)
    degraded_refused_ratio: float = _setting(
        0.05, "IOC_DEGRADED_REFUSED_RATIO",
        "Share of readings refused for their time (`future`, `clock_jump`, `late`) over the "
        "last minute above which the worker's `/healthz` says `degraded`.", minimum=0)

    # --- Commands and silences (checked by the dashboard and again by the worker) ----------
    max_silence_s: float = _setting(
        86_400.0, "IOC_MAX_SILENCE_S", "The longest silence a command may ask for, in seconds.",
        minimum=1)
    operators_may_silence_broadly: bool = _setting(
        False, "IOC_OPERATORS_MAY_SILENCE_BROADLY",
        "Let operators silence without a group, district or alert_id matcher (city-wide "
        "silences); otherwise only the supervisor role may.")
    operator_label: str = _setting(
        "", "IOC_OPERATOR_LABEL",
        "Label of the operator token: commands sent with it are recorded as "
        "`operator:<label>` (empty: `operator`). Names clients declare are never recorded.")

    # --- Archive ---------------------------------------------------------------------------
    database_url: str | None = _setting(
        None, "IOC_DATABASE_URL",
        "The archive's database, e.g. `postgresql+psycopg://ioc@db/ioc`. Unset: a SQLite file "
        "`archive.db` under `IOC_DATA_DIR`.")
    archive_port: int = _setting(
        6067, "IOC_ARCHIVE_PORT", "`ioc archive` web port (`/metrics`, `/healthz`; on "
        "`IOC_WORKER_HOST`).", minimum=0)
    archive_hourly_retention_days: float = _setting(
        400.0, "IOC_ARCHIVE_HOURLY_RETENTION_DAYS",
        "How long hourly indicator roll-ups are kept (0: for ever).", minimum=0)
    archive_daily_retention_days: float = _setting(
        0.0, "IOC_ARCHIVE_DAILY_RETENTION_DAYS",
        "How long daily indicator roll-ups are kept (0: for ever).", minimum=0)
    archive_alert_retention_days: float = _setting(
        0.0, "IOC_ARCHIVE_ALERT_RETENTION_DAYS",
        "How long alert and incident versions and commands are kept (0: for ever).",
        minimum=0)
    ack_sla: str = _setting(
        "critical=300,major=900,warning=3600,info=86400", "IOC_ACK_SLA_S",
        "Acknowledgement SLA per severity, `severity=seconds` pairs: reports show the share of "
        "alerts acknowledged within it. Every severity needs a value.")

    # --- Notifications (notify/) -----------------------------------------------------------
    notify_config: str | None = _setting(
        None, "IOC_NOTIFY_CONFIG",
        "The notifier's TOML file of routes, receivers and channels (`examples/notify.toml`); "
        "`ioc notify` refuses to start without it and names the file, line and field of "
        "any mistake.")
    notify_port: int = _setting(
        6069, "IOC_NOTIFY_PORT", "`ioc notify` web port (`/metrics`, `/healthz`; on "
        "`IOC_WORKER_HOST`).", minimum=0)

    # --- Dashboard -------------------------------------------------------------------------
    dashboard_host: str = _setting("127.0.0.1", "IOC_DASHBOARD_HOST", "Dashboard bind address.")
    dashboard_port: int = _setting(8080, "IOC_DASHBOARD_PORT", "Dashboard port.", minimum=0)
    operator_token: str | None = _setting(
        None, "IOC_OPERATOR_TOKEN",
        "Bearer token of the operator role (may send commands). Unset: a random one is made "
        "and printed at start.")
    leadership_token: str | None = _setting(
        None, "IOC_LEADERSHIP_TOKEN", "Bearer token of the leadership role (read-only).")
    engineer_token: str | None = _setting(
        None, "IOC_ENGINEER_TOKEN", "Bearer token of the engineer role (read-only, sees all).")
    allowed_origins: str = _setting(
        "", "IOC_ALLOWED_ORIGINS",
        "Comma-separated public origins of the dashboard's pages (`https://wall.city.example`) "
        "allowed to open its websocket, besides its own bind address and loopback names on its "
        "port; the request's Host header is never trusted (DNS rebinding). Needed when the "
        "pages are reached through a proxy or a name other than the bind address.")
    dashboard_stale_after_s: float = _setting(
        600.0, "IOC_DASHBOARD_STALE_AFTER_S",
        "No indicator on `ioc.indicators` for this long while connected: the dashboard's "
        "`/healthz` says `degraded` and the pages show a stale-data banner (default: twice "
        "the longest group window, 300 s).", minimum=1)

    # --- Accounts and sign-in (archive.accounts, dashboards.signin) ------------------------
    password_min_length: int = _setting(
        12, "IOC_PASSWORD_MIN_LENGTH",
        "The shortest password `ioc users add` and `ioc users passwd` accept.", minimum=8)
    session_max_age_s: float = _setting(
        43_200.0, "IOC_SESSION_MAX_AGE_S",
        "A dashboard sign-in session ends this long after sign-in, however active.",
        minimum=60)
    session_idle_s: float = _setting(
        1_800.0, "IOC_SESSION_IDLE_S",
        "A dashboard sign-in session ends after this long without a request (an open wall "
        "keeps its session alive).", minimum=60)
    login_max_failures: int = _setting(
        5, "IOC_LOGIN_MAX_FAILURES",
        "Failed sign-ins of one login within `IOC_LOGIN_THROTTLE_S` after which that login "
        "is refused (HTTP 429) until the oldest failure ages out.", minimum=1)
    login_max_failures_per_address: int = _setting(
        20, "IOC_LOGIN_MAX_FAILURES_PER_ADDRESS",
        "Failed sign-ins from one client address within `IOC_LOGIN_THROTTLE_S` after which "
        "that address is refused (HTTP 429).", minimum=1)
    login_throttle_s: float = _setting(
        900.0, "IOC_LOGIN_THROTTLE_S", "The span the sign-in failure limits count over.",
        minimum=1)
    secure_cookies: str = _setting(
        "auto", "IOC_SECURE_COOKIES",
        "`auto`: the session cookie is `Secure` when the request came over TLS; `always`: "
        "always `Secure` (behind a proxy that terminates TLS, which the dashboard cannot see).",
        choices=("auto", "always"))

    # --- Ingest: the MQTT bridge and the HTTP ingest API (ingest/) ----------------------------
    ingest_config: str | None = _setting(
        None, "IOC_INGEST_CONFIG",
        "The ingest file (TOML): MQTT brokers and topic-to-reading mappings of `ioc ingest "
        "mqtt` (see examples/ingest.toml).")
    ingest_max_inflight: int = _setting(
        1000, "IOC_INGEST_MAX_INFLIGHT",
        "MQTT messages the bridge holds unacknowledged while Kafka confirms their readings "
        "(also the MQTT receive maximum).", minimum=1)
    ingest_dedupe_s: float = _setting(
        900.0, "IOC_INGEST_DEDUPE_S",
        "On start the bridge reads back what it wrote to Kafka over this many seconds, so a "
        "message redelivered after a crash is not produced twice.", minimum=0)
    ingest_http_host: str = _setting(
        "127.0.0.1", "IOC_INGEST_HTTP_HOST", "Address `ioc ingest http` binds to.")
    ingest_http_port: int = _setting(
        8090, "IOC_INGEST_HTTP_PORT", "Port of `ioc ingest http` (`POST /api/v1/readings`).",
        minimum=0)
    ingest_max_body_bytes: int = _setting(
        1_048_576, "IOC_INGEST_MAX_BODY_BYTES",
        "Largest request body `POST /api/v1/readings` accepts (larger: 413).", minimum=1024)
    ingest_rate_per_s: float = _setting(
        2000.0, "IOC_INGEST_RATE_PER_S",
        "Readings per second one API key may post on average (more: 429 with Retry-After).",
        minimum=0.01)
    ingest_burst: int = _setting(
        20_000, "IOC_INGEST_BURST",
        "Readings one API key may post at once above its rate; also the longest batch one "
        "request may carry (longer: 413).",
        minimum=1)
    simulator_mqtt_url: str | None = _setting(
        None, "IOC_SIMULATOR_MQTT_URL",
        "When set, `ioc simulate` publishes the groups of `IOC_SIMULATOR_MQTT_GROUPS` to this "
        "MQTT broker (`mqtt://host:port[?qos=0&protocol=5]`) as field sensors would, for "
        "`ioc ingest mqtt` to bring in; the other groups still go straight to Kafka.")
    simulator_mqtt_groups: str = _setting(
        "flooding,environment", "IOC_SIMULATOR_MQTT_GROUPS",
        "Comma-separated groups the simulator publishes over MQTT (with "
        "`IOC_SIMULATOR_MQTT_URL`).")

    # --- General ---------------------------------------------------------------------------
    log_level: str = _setting(
        "INFO", "IOC_LOG_LEVEL", "Logging level.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default: ``os.environ``); raise
        :class:`~ioc.errors.ConfigError` naming the variable on the first bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = parse_value(f, name, raw.strip())
        return cls(**values)

    @property
    def embedded(self) -> bool:
        """True when no external Kafka is configured and the embedded broker is used."""
        return self.kafka_bootstrap is None

    @property
    def ack_sla_s(self) -> dict[str, float]:
        """``IOC_ACK_SLA_S`` parsed: seconds per severity."""
        return parse_ack_sla(self.ack_sla)

    def retention_ms(self, hours: float) -> int:
        """Hours to Kafka's ``retention.ms``."""
        return int(hours * 3_600_000)


def settings_table() -> str:
    """The configuration table of the README, in Markdown, from the declarations above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = "(unset)" if f.default is None else f"`{f.default}`"
        rows.append(f"| `{f.metadata['env']}` | {default} | {f.metadata['doc']} |")
    return "\n".join(rows)
