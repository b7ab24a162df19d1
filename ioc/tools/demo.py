"""``ioc demo``: the whole monitor on one machine with one command.

Starts (or uses) a broker, creates the topics, then runs a worker, the dashboard and the city
simulator as child processes, prints where to look, and stops everything on Ctrl-C/SIGTERM
within 10 seconds. Children are plain ``ioc`` subcommands, so the demo wires the same parts a
production deployment runs. A child that crashes is started again with back-off (the worker
recovers its state from its changelog topics on the broker; the simulator goes on live,
without sending its history again), and the demo says so on stderr.

The embedded broker keeps every topic in memory only: the demo's alerts, indicators and audit
trail last as long as the demo runs, and the demo says so when it starts. ``ioc archive``
writes them to a SQLite file in the demo's data directory (or ``IOC_DATABASE_URL``): with the
embedded broker the file is new for each run.

People sign in with personal accounts: before the dashboard starts, the demo creates one per
role and a district operator for Lien Chieu in that database (``DemoOptions.people``, wired
by the command line) and prints each once, with its password and a one-time sign-in link
(``/login/once?t=...``: it works once, within 15 minutes). The ``wall:`` line is the
operator's link, ``summary:`` the leadership's, and ``supervisor:``, ``engineer:`` and
``admin:`` those of the other roles; without a link the pages open on the login page, which
also takes a pasted access token (no browser prompt).
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ioc.errors import BrokerError, IocError
from ioc.kafka.admin import create_topics
from ioc.kafka.broker import EmbeddedBroker, StopSignals, free_port, wait_for_kafka
from ioc.settings import Settings
from ioc.tools.supervisor import Supervisor, ioc_argv

Echo = Callable[[str], None]
COMPRESSED_LEAD_S = 365 * 86400.0
BRIDGE_READY_S = 60.0  # how long the simulator waits for `ioc ingest mqtt` to subscribe
DEMO_BROKER_STOP_S = 1.5  # SIGTERM to SIGKILL for the embedded broker (in memory: nothing to save)


class DemoPerson(Protocol):
    """An account the demo created (see :mod:`archive.demo_people`)."""

    @property
    def login(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def password(self) -> str | None: ...
    @property
    def link_token(self) -> str: ...


People = Callable[[str], Sequence[DemoPerson]]  # the database's URL -> the accounts made


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    """What to run and how."""

    seed: int = 7
    rate: float | None = None
    open_browser: bool = True
    dashboard_port: int | None = None
    with_worker: bool = True
    with_dashboard: bool = True
    with_archive: bool = True
    data_dir: Path = Path(".ioc-data/demo")
    backfill_s: float = 3600.0
    anomalies_per_hour: float = 30.0
    people: People | None = None  # creates the demo's accounts (None: no accounts)


def _wait_http(url: str, timeout: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise IocError(f"the dashboard exited before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise IocError(f"the dashboard did not answer {url} within {timeout:g} s")


def _archive_url(settings: Settings, options: DemoOptions, *, fresh: bool, note: Echo) -> str:
    """The archive's database: ``IOC_DATABASE_URL``, else a SQLite file in the demo's data
    directory, emptied first when the broker is the embedded one (its topics start empty, so
    the alert versions and offsets of an earlier run would not match)."""
    if settings.database_url:
        note("archive: IOC_DATABASE_URL")
        return settings.database_url
    path = options.data_dir / "archive.db"
    if fresh:
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    note(f"archive: {path} (SQLite{'; new for this run' if fresh else ''})")
    return f"sqlite:///{path.resolve()}"


def _compressed_time(options: DemoOptions, note: Echo) -> dict[str, str]:
    """With ``--rate`` the simulated city may run ahead of the wall clock: let the worker
    accept readings up to a year ahead instead of dead-lettering them as ``future``."""
    if options.rate is None:
        return {}
    note("worker: --rate compresses time, so readings may be dated ahead of now "
         f"(IOC_MAX_FUTURE_S and IOC_CLOCK_LEAD_S set to {COMPRESSED_LEAD_S:g} s)")
    lead = f"{COMPRESSED_LEAD_S:g}"
    return {"IOC_MAX_FUTURE_S": lead, "IOC_CLOCK_LEAD_S": lead}


def run_demo(settings: Settings, options: DemoOptions, echo: Echo, note: Echo) -> None:
    """Run the demo until a stop signal; ``echo`` prints the lines users and scripts read
    (``bootstrap:``, ``wall:``), ``note`` prints progress to stderr."""
    broker: EmbeddedBroker | None = None
    supervisor = Supervisor(options.data_dir / "logs")
    with StopSignals() as stop:
        try:
            if settings.kafka_bootstrap:
                bootstrap = settings.kafka_bootstrap
                wait_for_kafka(bootstrap, timeout=15)
            else:
                # its topics live in memory only, so a long goodbye keeps nothing: the broker
                # sometimes outlasted SIGTERM by the whole default grace (5 s) at shutdown
                broker = EmbeddedBroker(log_path=supervisor.log_dir / "broker.log",
                                        stop_grace=DEMO_BROKER_STOP_S)
                bootstrap = broker.start()
            echo(f"bootstrap: {bootstrap}")
            if broker is not None:
                note("data: the embedded broker keeps its topics in memory: they are gone when "
                     "it stops; the archive keeps this run's alerts, audit trail and indicator "
                     "roll-ups until the next run (set IOC_KAFKA_BOOTSTRAP and "
                     "IOC_DATABASE_URL to keep both)")
            report = create_topics(settings, bootstrap)
            note(f"topics: {len(report.created)} created, {len(report.existing)} already there")
            env = {"IOC_KAFKA_BOOTSTRAP": bootstrap,
                   "IOC_DATABASE_URL": _archive_url(settings, options, fresh=broker is not None,
                                                    note=note)}
            people = options.people(env["IOC_DATABASE_URL"]) \
                if options.people is not None and options.with_dashboard else ()
            if options.with_archive:
                _start_archive(supervisor, env, note)
                _start_notifier(supervisor, options, env, note)
            if options.with_worker:
                _start_worker(supervisor, options, env, note)
            if options.with_dashboard:
                _start_dashboard(supervisor, settings, options, bootstrap, env, echo, people)
            _start_mqtt(supervisor, options, env, note, stop.event)
            _start_simulator(supervisor, options, bootstrap, env, note)
            note("running; Ctrl-C to stop")
            _watch(stop, supervisor, broker, note)
        finally:
            started = time.monotonic()
            supervisor.stop_all(grace=7)
            if broker is not None:
                broker.stop()
            note(f"stopped in {time.monotonic() - started:.1f} s")


def _start_archive(supervisor: Supervisor, env: dict[str, str], note: Echo) -> None:
    """``ioc archive``, its metrics on a free port."""
    archive_port = free_port()
    supervisor.start("archive", ioc_argv("archive", "--port", str(archive_port)), env)
    note(f"archive: metrics on http://127.0.0.1:{archive_port}/metrics")


def notifier_config(mailbox: Path, wall_url: str) -> str:
    """The demo notifier's routes (``ioc notify``): major and critical city alerts to the
    duty officer in Vietnamese, escalated to the supervisor when nobody acknowledges them
    within 2 minutes; sensor-health alerts to the engineer in English; all by email into the
    local mailbox file ``mailbox`` (``tail -f`` it, or ``mutt -f`` it)."""
    return f'''[notify]
wall_url = "{wall_url}"
language = "vi"

[smtp]
mbox = "{mailbox}"
sender = "IOC Da Nang (demo) <ioc@demo.localhost>"

[defaults]
group_by = ["group", "district"]
group_wait = "10s"
group_interval = "2m"
repeat_interval = "1h"

[[receivers]]
name = "duty-officer"
email = "duty-officer@demo.localhost"

[[receivers]]
name = "supervisor"
email = "supervisor@demo.localhost"

[[receivers]]
name = "engineer"
email = "engineer@demo.localhost"
language = "en"

[[routes]]
name = "critical-escalation"
match = {{ category = "city", severity = "critical" }}
continue = true
escalation = [
  {{ after = "0s", receivers = ["duty-officer"] }},
  {{ after = "2m", receivers = ["supervisor"] }},
]

[[routes]]
name = "city"
match = {{ category = "city", severity = ["major", "critical"] }}
receivers = ["duty-officer"]

[[routes]]
name = "sensor-health"
match = {{ category = "sensor_health" }}
receivers = ["engineer"]
group_by = ["detector"]
'''


def _start_notifier(supervisor: Supervisor, options: DemoOptions, env: dict[str, str],
                    note: Echo) -> None:
    """``ioc notify`` with :func:`notifier_config`, its metrics on a free port."""
    folder = options.data_dir / "notify"
    folder.mkdir(parents=True, exist_ok=True)
    mailbox = (folder / "mailbox.mbox").resolve()
    config = folder / "notify.toml"
    wall = f"http://127.0.0.1:{options.dashboard_port or 8080}"
    config.write_text(notifier_config(mailbox, wall), encoding="utf-8")
    port = free_port()
    supervisor.start("notifier", ioc_argv("notify", "--port", str(port)), {
        **env, "IOC_NOTIFY_CONFIG": str(config)})
    note(f"notifier: emails into {mailbox} (watch: tail -f {mailbox}); metrics on "
         f"http://127.0.0.1:{port}/metrics")


def _start_worker(supervisor: Supervisor, options: DemoOptions, env: dict[str, str],
                  note: Echo) -> None:
    """``ioc worker``, its metrics on a free port, its state under the demo's data directory,
    with every live multivariate model (the default runs only the indicators' ones)."""
    worker_port = free_port()
    supervisor.start("worker", ioc_argv("worker"), {
        **env, "IOC_WORKER_PORT": str(worker_port), "IOC_MULTIVARIATE": "all",
        "IOC_DATA_DIR": str(options.data_dir / "worker"),
        **_compressed_time(options, note)})
    note(f"worker: metrics on http://127.0.0.1:{worker_port}/metrics")


def _start_dashboard(supervisor: Supervisor, settings: Settings, options: DemoOptions,
                     bootstrap: str, env: dict[str, str], echo: Echo,
                     people: Sequence[DemoPerson] = ()) -> None:
    """``ioc dashboard`` with an automation token per role (the configured ones, else fresh);
    once it answers, print its addresses and the demo's accounts, and open the wall in a
    browser if asked (which spends the operator's link)."""
    port = options.dashboard_port or free_port()
    tokens = {role: getattr(settings, f"{role}_token") or secrets.token_urlsafe(16)
              for role in ("operator", "leadership", "engineer")}
    child = supervisor.start("dashboard", ioc_argv(
        "dashboard", "--port", str(port), "--bootstrap", bootstrap), {
        **env, **{f"IOC_{role.upper()}_TOKEN": t for role, t in tokens.items()}})
    base = f"http://127.0.0.1:{port}"
    _wait_http(f"{base}/healthz", 30, lambda: child.running)
    links = {p.login: f"{base}/login/once?t={p.link_token}" for p in people}
    first = {p.role: p for p in reversed(people)}  # the first account of each role
    wall = links[first["operator"].login] if "operator" in first else f"{base}/"
    echo(f"wall: {wall}")
    echo("summary: " + (links[first["leadership"].login] + "&next=/summary"
                        if "leadership" in first else f"{base}/summary"))
    for role in ("supervisor", "engineer", "admin"):  # every other role's way in, by name
        if role in first:
            echo(f"{role}: {links[first[role].login]}")
    echo(f"metrics: {base}/metrics")
    for p in people:
        echo(account_line(p, links[p.login]))
    if people:
        echo("accounts: each link signs its account in once, within 15 minutes; "
             "afterwards sign in with the login and password")
    if options.open_browser:
        webbrowser.open(wall)


def account_line(p: DemoPerson, link: str) -> str:
    """The line the demo prints for one account (its password once).

    >>> from types import SimpleNamespace as P
    >>> account_line(P(login="mai", display_name="Mai Pham", role="operator",
    ...                scope="Lien Chieu", password="pw", link_token="t"), "URL")
    'account: mai (Mai Pham) operator, Lien Chieu; password: pw; link: URL'
    """
    password = p.password if p.password is not None else "(unchanged: the account existed)"
    return (f"account: {p.login} ({p.display_name}) {p.role}, {p.scope}; "
            f"password: {password}; link: {link}")


def _start_mqtt(supervisor: Supervisor, options: DemoOptions, env: dict[str, str],
                note: Echo, stop: threading.Event) -> None:
    """The real path for field sensors: ``ioc ingest broker`` (the embedded MQTT broker) and
    ``ioc ingest mqtt`` (the bridge) with a mapping for the simulator's sensors; the
    simulator then publishes flooding and environment over MQTT (``env`` gets its URL). Returns
    once the bridge has subscribed (its ``bridge:`` line), at most :data:`BRIDGE_READY_S`
    seconds later, or at once when ``stop`` is set."""
    import socket

    from ioc.tools.mqtt_publish import DEMO_MAPPING

    port = free_port()
    broker = supervisor.start("mqtt-broker", ioc_argv("ingest", "broker", "--port", str(port)),
                              env)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and broker.running:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    config = options.data_dir / "ingest.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[[broker]]\nname = "demo"\nurl = "mqtt://127.0.0.1:{port}"\n'
                      'client_id = "ioc-demo-bridge"\nprotocol = "5"\nqos = 0\n'
                      + DEMO_MAPPING.replace("{root}/", "danang/"), encoding="utf-8")
    bridge = supervisor.start("ingest-mqtt", ioc_argv("ingest", "mqtt", "--config",
                                                        str(config)), env)
    env["IOC_SIMULATOR_MQTT_URL"] = f"mqtt://127.0.0.1:{port}?qos=0&protocol=5"
    note(f"mqtt: broker mqtt://127.0.0.1:{port} (embedded, demo only); the simulator "
         f"publishes flooding and environment there and `ioc ingest mqtt` ({config}) brings "
         "them in")
    # QoS 0 and no session: what the simulator publishes before the bridge subscribed is lost
    if bridge.wait_for_line("bridge:", BRIDGE_READY_S, cancel=stop) is None \
            and not stop.is_set():
        why = f"not within {BRIDGE_READY_S:g} s" if bridge.running else bridge.exit_text()
        note(f"mqtt: the bridge has not subscribed ({why}; see {bridge.log_path}); starting "
             "the simulator anyway: its first MQTT readings may be lost")


def _start_simulator(supervisor: Supervisor, options: DemoOptions, bootstrap: str,
                     env: dict[str, str], note: Echo) -> None:
    """``ioc simulate`` with a backfill of recent history; restarted without it."""
    sim = ["simulate", "--bootstrap", bootstrap, "--seed", str(options.seed),
           "--anomalies-per-hour", f"{options.anomalies_per_hour:g}"]
    if options.rate is not None:
        sim += ["--rate", f"{options.rate:g}"]
    # a restarted simulator goes on live: its history is on the broker already
    supervisor.start("simulator", ioc_argv(*sim, "--backfill", f"{options.backfill_s:g}"),
                     env, restart_argv=ioc_argv(*sim))
    note(f"simulator: seed {options.seed}; logs in {supervisor.log_dir}")


def _watch(stop: StopSignals, supervisor: Supervisor, broker: EmbeddedBroker | None,
           note: Echo) -> None:
    """Until a stop signal: restart crashed children (saying so); BrokerError if the embedded
    broker stops."""
    while not stop.event.wait(0.5):
        for line in supervisor.revive():
            note(line)
        if broker is not None and not broker.running:
            raise BrokerError(f"the embedded broker stopped: {broker.last_output()}")
