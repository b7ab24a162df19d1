"""The notifier's Prometheus metrics (``ioc_notify_*``), declared once on the registry passed
in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["NotifyMetrics"]


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.records = Counter("ioc_notify_records", "Records read from ioc.alerts.",
                               registry=r)
        self.rejects = Counter("ioc_notify_rejects", "Records that could not be decoded.",
                               registry=r)
        self.planned = Counter("ioc_notify_planned", "Deliveries planned into the outbox, "
                               "per kind (group, escalation, digest).", ["kind"], registry=r)
        self.sent = Counter("ioc_notify_sent", "Deliveries the receiver accepted, per channel.",
                            ["channel"], registry=r)
        self.failed = Counter("ioc_notify_failed", "Deliveries that failed for good (a "
                              "permanent error, or out of attempts), per channel.",
                              ["channel"], registry=r)
        self.retried = Counter("ioc_notify_retried", "Temporary failures retried later, per "
                               "channel.", ["channel"], registry=r)
        self.rate_limited = Counter("ioc_notify_rate_limited", "Deliveries put back by the "
                                    "per-receiver rate limit, per channel.", ["channel"],
                                    registry=r)
        self.suppressed = Counter("ioc_notify_suppressed", "Receivers not told, per reason "
                                  "(quiet_hours, severity, scope, no_address, ...).",
                                  ["reason"], registry=r)
        self.escalations_stopped = Counter("ioc_notify_escalations_stopped", "Escalation "
                                           "chains stopped, per reason (acknowledged, "
                                           "resolved, silenced).", ["reason"], registry=r)
        self.queue_depth = Gauge("ioc_notify_queue_depth", "Deliveries waiting in the outbox.",
                                 registry=r)
        self.queue_age = Gauge("ioc_notify_queue_age_seconds", "Age of the oldest delivery "
                               "waiting in the outbox.", registry=r)
        self.latency = Histogram("ioc_notify_delivery_seconds", "From the alert record to "
                                 "its delivery, per channel.", ["channel"], registry=r,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
                                          900, 3600))
        self.db_errors = Counter("ioc_notify_db_errors", "Failed attempts to reach the "
                                 "database.", registry=r)
