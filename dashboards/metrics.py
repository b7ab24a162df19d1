"""The dashboard's Prometheus metrics, declared once on a registry that is passed in.

Names follow ``ioc_dashboard_<name>_<unit>`` (ARCH.md); labels are low-cardinality.

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> m = DashboardMetrics(reg)
>>> m.commands.labels(action="ack").inc()
>>> reg.get_sample_value("ioc_dashboard_commands_total", {"action": "ack"})
1.0
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dashboards.protocol import ROLES

DROP_REASONS = ("conflated", "queue_full", "resync", "resync_pending", "closed")
RESYNC_REASONS = ("initial", "lagging", "too_old", "epoch_changed", "subscribed",
                  "state_loaded")


class DashboardMetrics:
    """Every metric of the dashboard server."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.clients = Gauge(
            "ioc_dashboard_clients", "Connected, authenticated websocket clients by role.",
            ["role"], registry=registry)
        self.messages_sent = Counter(
            "ioc_dashboard_messages_sent_total", "Websocket frames written to clients.",
            registry=registry)
        self.messages_dropped = Counter(
            "ioc_dashboard_messages_dropped_total",
            "Frames a client did not get, by reason (conflated, queue_full, resync, "
            "resync_pending, closed).", ["reason"], registry=registry)
        self.resyncs = Counter(
            "ioc_dashboard_resyncs_total", "Snapshots sent in place of deltas, by reason.",
            ["reason"], registry=registry)
        self.disconnects = Counter(
            "ioc_dashboard_disconnects_total",
            "Websocket connections closed, by reason (normal, auth, rate_limit, too_slow, "
            "too_big, timeout, error, shutdown).", ["reason"], registry=registry)
        self.commands = Counter(
            "ioc_dashboard_commands_total", "Operator commands written to ioc.commands.",
            ["action"], registry=registry)
        self.commands_rejected = Counter(
            "ioc_dashboard_commands_rejected_total",
            "Commands refused (forbidden, invalid_command, unavailable).", ["reason"],
            registry=registry)
        self.client_errors = Counter(
            "ioc_dashboard_client_errors_total",
            "Error frames sent to clients, by code.", ["code"], registry=registry)
        self.records_consumed = Counter(
            "ioc_dashboard_records_consumed_total", "Kafka records consumed, by topic.",
            ["topic"], registry=registry)
        self.records_invalid = Counter(
            "ioc_dashboard_records_invalid_total",
            "Kafka records that failed to decode, by topic.", ["topic"], registry=registry)
        self.snapshot_bytes = Histogram(
            "ioc_dashboard_snapshot_bytes", "Size of snapshot frames sent.",
            buckets=(1e3, 1e4, 1e5, 3e5, 1e6, 3e6, 1e7), registry=registry)
        self.fanout_seconds = Histogram(
            "ioc_dashboard_fanout_seconds",
            "Time from a Kafka record reaching the dashboard to its frame being written to a "
            "client's socket (sampled: the first frame of each writer batch).",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.5),
            registry=registry)
        self.open_alerts = Gauge(
            "ioc_dashboard_open_alerts", "Open alerts held by this dashboard, by severity.",
            ["severity"], registry=registry)
        self.ready = Gauge(
            "ioc_dashboard_ready", "1 once the state has caught up with Kafka, else 0.",
            registry=registry)
        self.indicator_age = Gauge(
            "ioc_dashboard_indicator_age_seconds",
            "Seconds since the newest indicator arrived from Kafka (counted from when the "
            "state caught up; -1 before): over IOC_DASHBOARD_STALE_AFTER_S, /healthz says "
            "degraded.", registry=registry)
        self.unregistered_sources = Gauge(
            "ioc_dashboard_unregistered_sources",
            "Distinct sources outside the catalog seen in window summaries, by group (at most "
            "1000 tracked per group).", ["group"], registry=registry)
        self.sequence = Gauge(
            "ioc_dashboard_sequence", "Sequence number of the last delta published.",
            registry=registry)
        self.sign_ins = Counter(
            "ioc_dashboard_sign_ins_total",
            "Sign-ins on the login page, by outcome (ok, refused) and reason (ok, "
            "unknown_user, bad_password, disabled, bad_input, throttled, bad_token, csrf, "
            "too_big, bad_link: a one-time sign-in link used, expired or forged).",
            ["outcome", "reason"], registry=registry)
        self.auth_refusals = Counter(
            "ioc_dashboard_auth_refusals_total",
            "Requests and websockets refused for their credentials, by reason (no_session, "
            "expired, idle, revoked, disabled, unknown_session, bad_key, csrf).", ["reason"],
            registry=registry)
        for role in ROLES:
            self.clients.labels(role=role)
        for reason in DROP_REASONS:
            self.messages_dropped.labels(reason=reason)
