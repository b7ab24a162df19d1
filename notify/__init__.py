"""Alerts that reach people: ``ioc notify`` (issue 14).

A consumer group on ``ioc.alerts`` (alerts and incidents) decides who is told what and
delivers it, durably:

* :mod:`notify.items`     alert and incident records as one routable :class:`~notify.items.Item`
* :mod:`notify.config`    the TOML routes, receivers and channels (errors name file, line, field)
* :mod:`notify.routing`   which routes an item takes (first match, or continue): pure
* :mod:`notify.grouping`  group_wait / group_interval / repeat_interval / resolved: pure
* :mod:`notify.escalation` steps that stop on ack or resolve: pure
* :mod:`notify.people`    receivers: accounts' preferences (channels, severity, scope, quiet
  hours) or plain addresses, expanded into deliveries: pure
* :mod:`notify.messages`  email (vi/en, text + HTML), Alertmanager v4 webhook, one SMS
* :mod:`notify.outbox`    the durable outbox: idempotency keys, back-off with jitter, claims
* :mod:`notify.channels`  SMTP, webhook (HMAC-signed) and the SMS gateway
* :mod:`notify.planner`   records and the clock -> group, escalation and outbox rows
* :mod:`notify.service`   the consumer, the planner's clock and the dispatcher, wired
"""
