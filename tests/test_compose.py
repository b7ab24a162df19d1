"""docker-compose.yml validated without a Docker engine: it parses, every ioc service runs a real
``ioc`` subcommand with options the CLI accepts, ports, volumes, health checks and dependencies
line up, Prometheus scrapes exactly the services that expose metrics, and every Grafana
provisioning file the compose file mounts exists and is consistent."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from ioc.cli import cli
from ioc.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}``/``${VAR}`` with no variable set: the default (or empty)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: _interpolate(str(v)) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command")
    if cmd is None:
        return []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def _ioc_services() -> dict[str, dict[str, Any]]:
    """Services built from this repository's Dockerfile (they run the ``ioc`` CLI)."""
    return {name: s for name, s in _services().items() if "build" in s}


def _by_command(*words: str) -> dict[str, dict[str, Any]]:
    n = len(words)
    return {name: s for name, s in _ioc_services().items() if _command(s)[1:1 + n] == list(words)}


def _resolve(args: list[str]) -> click.Command:
    """Walk ``ioc`` subcommands like click does and parse the leaf's options (not invoking it);
    a missing subcommand or an unknown option fails the test."""
    command: click.Command = cli
    path = ["ioc"]
    rest = list(args)
    while isinstance(command, click.Group) and (
            not command.invoke_without_command or (rest and rest[0] in command.commands)):
        assert rest, f"`{' '.join(path)}` needs a subcommand"
        name = rest.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, (
            f"`{' '.join(path)} {name}` is not a command of ioc.cli "
            f"(known: {', '.join(sorted(command.commands))})")
        command, path = sub, [*path, name]
    try:
        command.make_context(" ".join(path), rest)
    except click.ClickException as exc:
        pytest.fail(f"`{' '.join(path + rest)}`: {exc.format_message()}")
    return command


def _port_of_url(url: str) -> int:
    parts = urlsplit(url)
    assert parts.port is not None, url
    return parts.port


def _healthcheck_urls(service: dict[str, Any]) -> list[str]:
    test = service.get("healthcheck", {}).get("test", [])
    text = " ".join(test) if isinstance(test, list) else str(test)
    return re.findall(r"https?://[^\s'\"]+", text)


def _container_ports(service: dict[str, Any]) -> set[int]:
    out = set()
    for spec in service.get("ports", []):
        out.add(int(str(spec).split(":")[-1].split("/")[0]))
    return out


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path for ``./relative`` bind mounts."""
    out = {}
    for spec in service.get("volumes", []):
        parts = str(spec).split(":")
        if parts[0].startswith("."):
            out[parts[1]] = (ROOT / parts[0]).resolve()
    return out


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The host file behind ``container_path`` through the service's bind mounts."""
    target = PurePosixPath(container_path)
    for mount, host in _bind_mounts(service).items():
        try:
            rel = target.relative_to(mount)
        except ValueError:
            continue
        return host / rel
    return None


def _prometheus_config() -> tuple[dict[str, Any], Path]:
    prom = _services()["prometheus"]
    flags = dict(arg.split("=", 1) for arg in _command(prom) if "=" in arg)
    path = _host_path(prom, flags["--config.file"])
    assert path is not None and path.is_file(), \
        f"--config.file {flags['--config.file']} is not a mounted file of the repository"
    return yaml.safe_load(path.read_text()), path


# --- the file and the image ---------------------------------------------------------------


def test_compose_parses_and_has_the_whole_stack() -> None:
    """kafka, topic creation, two workers, the archive, the dashboard, Prometheus and Grafana."""
    services = _services()
    assert {"kafka", "prometheus", "grafana"} <= set(services)
    assert len(_by_command("topics", "create")) == 1
    assert len(_by_command("worker")) >= 2, "two worker replicas"
    assert len(_by_command("dashboard")) == 1
    assert len(_by_command("archive")) == 1


def test_the_archive_and_the_dashboard_share_postgresql() -> None:
    """The archive writes, the dashboard reads the same database; the archive's web port
    lines up with its healthcheck and is reachable by Prometheus."""
    services = _services()
    assert str(services["postgres"]["image"]).startswith("postgres:")
    ((_, arch),) = _by_command("archive").items()
    ((_, dash),) = _by_command("dashboard").items()
    url = _env(arch)["IOC_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    assert _env(dash)["IOC_DATABASE_URL"] == url
    port = int(_env(arch)["IOC_ARCHIVE_PORT"])
    assert all(_port_of_url(u) == port for u in _healthcheck_urls(arch))
    assert _env(arch)["IOC_WORKER_HOST"] == "0.0.0.0"
    assert "postgres" in (arch.get("depends_on") or {})


def test_dockerfile_builds_the_ioc_image_from_python_slim() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"pip install (\S+ )*\.(\s|$)", text)
    for name, service in _ioc_services().items():
        build = service["build"]
        context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile",
                                                                           "Dockerfile")
        assert (context / dockerfile).resolve() == DOCKERFILE, name
    # every package the project installs is copied in (pyproject's package list)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package}\b", text, re.M), f"Dockerfile lacks COPY {package}"


# --- commands -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_ioc_services()))
def test_every_ioc_service_runs_a_real_subcommand(name: str) -> None:
    """The command exists in ``ioc.cli.cli`` and click accepts its options."""
    args = _command(_ioc_services()[name])
    assert args and args[0] == "ioc", f"{name}: command must start with `ioc`, got {args}"
    _resolve(args[1:])


def test_cli_has_the_subcommands_compose_needs() -> None:
    """`ioc worker` and `ioc dashboard` exist (they are added with the streams and dashboards
    packages)."""
    for name in ("worker", "dashboard", "topics"):
        assert name in cli.commands, f"ioc.cli has no `{name}` command"


@pytest.mark.parametrize("name", sorted(_ioc_services()))
def test_ioc_settings_in_the_environment_are_valid(name: str) -> None:
    """Every IOC_* variable is a known setting with a valid value, and Kafka is `kafka:9092`."""
    env = {k: v for k, v in _env(_ioc_services()[name]).items() if k.startswith("IOC_")}
    known = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
    assert set(env) <= known, f"unknown settings: {sorted(set(env) - known)}"
    settings = Settings.from_env(env)
    assert settings.kafka_bootstrap == "kafka:9092"


def test_kafka_is_kraft_and_advertises_what_ioc_uses() -> None:
    kafka = _services()["kafka"]
    assert str(kafka["image"]).startswith("apache/kafka:")
    env = _env(kafka)
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert not any("zookeeper" in name for name in _services())
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert f"{controller}:" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    node = env["KAFKA_NODE_ID"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{node}@kafka:")
    for listener in env["KAFKA_ADVERTISED_LISTENERS"].split(","):
        assert listener.split("://")[0] in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    # the host listener is published
    host = [u for u in env["KAFKA_ADVERTISED_LISTENERS"].split(",") if "localhost" in u]
    for url in host:
        assert _port_of_url(url.replace(url.split("://")[0], "tcp", 1)) in \
            _container_ports(kafka)


# --- dependencies and health --------------------------------------------------------------


def test_dependencies_exist_and_wait_for_health() -> None:
    services = _services()
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        items = deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)
        for dep, how in items:
            assert dep in services, f"{name} depends on unknown service {dep}"
            condition = (how or {}).get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"
    (topics_name,) = _by_command("topics", "create")
    assert services[topics_name]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services[topics_name].get("restart", "no") == "no"
    for name in (*_by_command("worker"), *_by_command("dashboard")):
        assert services[name]["depends_on"][topics_name]["condition"] == \
            "service_completed_successfully", name


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _services().items():
        if name in _by_command("topics", "create"):
            continue
        assert "healthcheck" in service, name


def test_ports_line_up_with_settings_and_healthchecks() -> None:
    for name, service in _by_command("worker").items():
        port = int(_env(service)["IOC_WORKER_PORT"])
        urls = _healthcheck_urls(service)
        assert urls and all(_port_of_url(u) == port for u in urls), name
        assert any(u.endswith("/healthz") for u in urls), name
        # the worker binds to 127.0.0.1 by default: in a container Prometheus could not scrape it
        assert _env(service).get("IOC_WORKER_HOST") == "0.0.0.0", name
    ((name, dash),) = _by_command("dashboard").items()
    env = _env(dash)
    port = int(env["IOC_DASHBOARD_PORT"])
    assert env["IOC_DASHBOARD_HOST"] == "0.0.0.0", "the dashboard must listen beyond localhost"
    assert port in _container_ports(dash)
    assert all(_port_of_url(u) == port for u in _healthcheck_urls(dash))
    assert 9090 in _container_ports(_services()["prometheus"])
    assert 3000 in _container_ports(_services()["grafana"])


def test_host_ports_are_unique() -> None:
    published: dict[str, str] = {}
    for name, service in _services().items():
        for spec in service.get("ports", []):
            host = str(spec).rsplit(":", 1)[0]
            assert host not in published, f"{name} and {published[host]} both publish {host}"
            published[host] = name


# --- volumes ------------------------------------------------------------------------------


def test_volumes_line_up() -> None:
    """Named volumes are declared, bind mounts exist, each worker has its own state volume."""
    compose = _compose()
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in compose["services"].items():
        for spec in service.get("volumes", []):
            source = str(spec).split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused: {sorted(declared - used)}"
    worker_volumes = []
    for name, service in _by_command("worker").items():
        data_dir = _env(service)["IOC_DATA_DIR"]
        mounts = [str(v).split(":") for v in service.get("volumes", [])]
        mine = [src for src, dst, *_ in mounts if dst == data_dir]
        assert len(mine) == 1, f"{name}: IOC_DATA_DIR {data_dir} must be a volume"
        worker_volumes += mine
    assert len(set(worker_volumes)) == len(worker_volumes), "workers must not share state"


# --- Prometheus ---------------------------------------------------------------------------


def test_prometheus_targets_match_the_services() -> None:
    config, path = _prometheus_config()
    jobs = {job["job_name"]: [t for sc in job.get("static_configs", []) for t in sc["targets"]]
            for job in config["scrape_configs"]}
    workers = {f"{name}:{_env(s)['IOC_WORKER_PORT']}" for name, s in _by_command("worker").items()}
    assert set(jobs["ioc-worker"]) == workers
    ((dname, dash),) = _by_command("dashboard").items()
    assert jobs["ioc-dashboard"] == [f"{dname}:{_env(dash)['IOC_DASHBOARD_PORT']}"]
    ((aname, arch),) = _by_command("archive").items()
    assert jobs["ioc-archive"] == [f"{aname}:{_env(arch)['IOC_ARCHIVE_PORT']}"]
    ((nname, notifier),) = _by_command("notify").items()
    assert jobs["ioc-notify"] == [f"{nname}:{_env(notifier)['IOC_NOTIFY_PORT']}"]
    ingest = _services()
    mqtt_port = ingest["ingest-mqtt"]["command"][-1]
    http_port = _env(ingest["ingest-http"])["IOC_INGEST_HTTP_PORT"]
    assert jobs["ioc-ingest"] == [f"ingest-mqtt:{mqtt_port}", f"ingest-http:{http_port}"]
    for name in ("notifier", "ingest-mqtt"):  # scraped from Prometheus' own container
        assert _env(ingest[name])["IOC_WORKER_HOST"] == "0.0.0.0", name
    for rule_file in config.get("rule_files", []):
        assert (path.parent / rule_file).is_file(), rule_file


# --- Grafana ------------------------------------------------------------------------------


def _grafana_yaml(kind: str) -> list[dict[str, Any]]:
    grafana = _services()["grafana"]
    folder = _host_path(grafana, f"/etc/grafana/provisioning/{kind}")
    assert folder is not None and folder.is_dir(), f"no provisioning/{kind} mounted"
    files = sorted(folder.glob("*.y*ml"))
    assert files, f"no provisioning/{kind}/*.yml"
    return [yaml.safe_load(f.read_text()) for f in files]


def test_grafana_datasource_points_at_the_prometheus_service() -> None:
    sources = [d for doc in _grafana_yaml("datasources") for d in doc["datasources"]]
    (prom,) = [d for d in sources if d["type"] == "prometheus"]
    url = urlsplit(prom["url"])
    assert url.hostname == "prometheus" and url.port in _container_ports(
        _services()["prometheus"])


def test_grafana_dashboards_provisioned_exist_and_use_the_datasource() -> None:
    grafana = _services()["grafana"]
    uids = {d["uid"] for doc in _grafana_yaml("datasources") for d in doc["datasources"]}
    providers = [p for doc in _grafana_yaml("dashboards") for p in doc["providers"]]
    assert providers
    for provider in providers:
        folder = _host_path(grafana, provider["options"]["path"])
        assert folder is not None and folder.is_dir(), provider["options"]["path"]
        dashboards = sorted(folder.glob("*.json"))
        assert dashboards, f"no dashboard JSON in {folder}"
        for file in dashboards:
            board = json.loads(file.read_text())
            panels = [p for p in board["panels"] if p["type"] != "row"]
            assert panels, file.name
            for panel in panels:
                assert panel["datasource"]["uid"] in uids, (file.name, panel["title"])
                for target in panel["targets"]:
                    assert target["datasource"]["uid"] in uids
    home = _env(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        path = _host_path(grafana, home)
        assert path is not None and path.is_file(), home


# --- ingest (issue 15) ------------------------------------------------------------------------


def _config_content(name: str) -> str:
    return _interpolate(_compose()["configs"][name]["content"]).replace("$$", "$")


def test_the_ingest_services_reach_mosquitto_and_kafka() -> None:
    """The bridge's ingest file parses and names the mosquitto service; Mosquitto keeps
    queued messages (no loss while the bridge is down); the HTTP ingest API listens beyond
    localhost on the port its health check asks."""
    from ingest.config import IngestConfig

    services = _services()
    ((bname, bridge),) = _by_command("ingest", "mqtt").items()
    mounted = {c["source"]: c["target"] for c in bridge["configs"]}
    assert mounted["ingest-toml"] == _env(bridge)["IOC_INGEST_CONFIG"]
    config = IngestConfig.from_toml(_config_content("ingest-toml"))
    (broker,) = config.brokers
    mosquitto = services[broker.host]
    assert broker.port in _container_ports(mosquitto)
    assert bridge["depends_on"][broker.host]["condition"] == "service_healthy"
    conf = _config_content("mosquitto-conf")
    assert "max_queued_messages 0" in conf and "persistence true" in conf
    assert all(_port_of_url(u) == int(_command(bridge)[-1]) for u in _healthcheck_urls(bridge))
    ((hname, http),) = _by_command("ingest", "http").items()
    env = _env(http)
    assert env["IOC_INGEST_HTTP_HOST"] == "0.0.0.0"
    assert int(env["IOC_INGEST_HTTP_PORT"]) in _container_ports(http)
    assert all(_port_of_url(u) == int(env["IOC_INGEST_HTTP_PORT"])
               for u in _healthcheck_urls(http))
    assert env["IOC_DATABASE_URL"] == _env(_by_command("archive").popitem()[1])[
        "IOC_DATABASE_URL"], "ingest keys live in the archive's database"
    assert bname != hname


# --- notifications (issue 14) -----------------------------------------------------------------


def test_the_notifier_reads_its_config_and_shares_the_archive_database() -> None:
    """`ioc notify` gets a valid config file, the archive's database (its outbox), a data
    volume for the demo mailbox, and a healthcheck on IOC_NOTIFY_PORT."""
    from notify.config import parse

    ((name, notifier),) = _by_command("notify").items()
    env = _env(notifier)
    mounted = {c["source"]: c["target"] for c in notifier["configs"]}
    assert mounted["notify-toml"] == env["IOC_NOTIFY_CONFIG"]
    config = parse(_config_content("notify-toml"), "notify-toml")
    assert config.routes and config.smtp.mbox.startswith(env["IOC_DATA_DIR"])
    assert env["IOC_DATABASE_URL"] == _env(_by_command("archive").popitem()[1])[
        "IOC_DATABASE_URL"], "the outbox lives in the archive's database"
    assert all(_port_of_url(u) == int(env["IOC_NOTIFY_PORT"])
               for u in _healthcheck_urls(notifier))
    assert env["IOC_WORKER_HOST"] == "0.0.0.0"
    assert notifier["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert re.search(r"^COPY notify\b", DOCKERFILE.read_text(), re.M), name
