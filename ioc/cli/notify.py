"""``ioc notify``: the notifier (issue 14). ``ioc notify`` runs it; ``ioc notify check``
validates a config file; ``ioc notify failed`` lists deliveries that failed for good, with
their reasons; ``ioc notify audit ALERT_ID`` shows an alert's escalation trail."""

from __future__ import annotations

import time

import click

from ioc.cli.root import _bootstrap, _bootstrap_option, cli, load_settings


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


@cli.group("notify", invoke_without_command=True)
@_bootstrap_option
@click.option("--topic-prefix", metavar="PREFIX", default="ioc", show_default=True,
              help="Read PREFIX.alerts instead of ioc.alerts.")
@click.option("--port", type=int, metavar="N", help="Web port for /metrics and /healthz "
              "(default: IOC_NOTIFY_PORT).")
@click.pass_context
def notify_command(ctx: click.Context, bootstrap: str | None, topic_prefix: str,
                   port: int | None) -> None:
    """Tell people about alerts: route them (IOC_NOTIFY_CONFIG), group them, escalate them,
    and deliver them by email, webhook and SMS through a durable outbox in the archive's
    database, until Ctrl-C or SIGTERM; notifiers with the same IOC_APP_ID share the
    partitions."""
    if ctx.invoked_subcommand is not None:
        return
    import dataclasses
    import logging

    from archive.run import open_store
    from ioc.kafka.broker import StopSignals, wait_for_kafka
    from notify.run import load_config, run_notify

    settings = load_settings()
    settings = dataclasses.replace(settings, kafka_bootstrap=_bootstrap(bootstrap, settings))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    load_config(settings)  # a bad config fails before waiting for anything
    open_store(settings).close()
    assert settings.kafka_bootstrap is not None
    wait_for_kafka(settings.kafka_bootstrap, timeout=60)
    with StopSignals() as stop:
        run_notify(settings, stop.event, topic_prefix=topic_prefix, port=port)


@notify_command.command("check")
@click.argument("path", required=False)
def notify_check(path: str | None) -> None:
    """Validate a config file (default: IOC_NOTIFY_CONFIG) and summarise it."""
    from ioc.errors import ConfigError
    from notify.config import load

    path = path or load_settings().notify_config
    if not path:
        raise ConfigError("give a PATH or set IOC_NOTIFY_CONFIG")
    cfg = load(path)
    click.echo(f"{path}: {len(cfg.routes)} routes, {len(cfg.receivers)} receivers, "
               f"{len(cfg.silences)} silences, digest "
               f"{f'at {cfg.digest.hour:02d}:00' if cfg.digest else 'off'}")
    for r in cfg.routes:
        steps = " -> ".join(f"{s.after:g}s {'+'.join(s.receivers)}" for s in r.escalation)
        click.echo(f"  {r.name}: {', '.join(r.receivers) or '-'}"
                   + (f"; escalation {steps}" if steps else "")
                   + ("; continue" if r.cont else ""))


@notify_command.command("failed")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def notify_failed(limit: int) -> None:
    """Deliveries that failed for good, newest first, with their reasons."""
    import sqlalchemy as sa

    from archive import schema
    from archive.run import open_store

    store = open_store(load_settings())
    t = schema.notify_outbox
    try:
        with store.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.status == "failed")
                                .order_by(t.c.created_at.desc()).limit(limit)).all()
    finally:
        store.close()
    if not rows:
        click.echo("no failed deliveries")
    for r in rows:
        click.echo(f"{_when(r.created_at)}  {r.channel:<7} {r.receiver:<20} {r.address:<30} "
                   f"attempts {r.attempts}: {r.reason}")


@notify_command.command("audit")
@click.argument("alert_id")
def notify_audit(alert_id: str) -> None:
    """An alert's escalation trail: who was told, by which channel, when, delivered or
    failed, and why the chain stopped."""
    import sqlalchemy as sa

    from archive import schema
    from archive.run import open_store

    store = open_store(load_settings())
    a, o = schema.notify_audit, schema.notify_outbox
    try:
        with store.connect() as conn:
            rows = conn.execute(sa.select(a, o.c.status, o.c.sent_at, o.c.reason.label("why"))
                                .select_from(a.outerjoin(o, o.c.key == a.c.outbox_key))
                                .where(a.c.alert_id == alert_id).order_by(a.c.ts, a.c.id)
                                ).all()
    finally:
        store.close()
    if not rows:
        click.echo(f"no escalation records for {alert_id}")
    for r in rows:
        step = f"step {r.step + 1}" if r.step is not None else "-"
        outcome = ""
        if r.event == "notified":
            outcome = (f"delivered {_when(r.sent_at)}" if r.status == "sent" else
                       f"{r.status}" + (f" ({r.why})" if r.why else ""))
        click.echo(f"{_when(r.ts)}  {r.route:<16} {step:<7} {r.event:<10} "
                   f"{r.receiver or '-':<16} {r.channel or '-':<7} {r.detail or ''} {outcome}")
