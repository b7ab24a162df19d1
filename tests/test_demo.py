"""`ioc demo`: one command brings the monitor up, streams all 15 groups, and stops cleanly."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from archive.store import Store, Unavailable
from ioc.catalog import GROUP_SLUGS
from ioc.cli import cli
from ioc.topics import events_topic


def _read_lines_until(proc: subprocess.Popen[str], prefixes: set[str],
                      timeout: float, every: list[str] | None = None) -> dict[str, str]:
    """The first line of each of ``prefixes`` (``prefix: value``); every line read goes to
    ``every`` when given."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while prefixes - set(found) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        if every is not None:
            every.append(line.strip())
        key, _, value = line.strip().partition(": ")
        if key in prefixes and key not in found:
            found[key] = value
    return found


ACCOUNT = re.compile(r"account: (?P<login>\S+) \((?P<name>[^)]*)\) (?P<role>\w+), "
                     r"(?P<scope>[^;]+); password: (?P<password>\S+); link: (?P<link>\S+)")


def _get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], str]:
    """One GET without following redirects: status, headers (lower-case names), body."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request("GET", f"{parts.path}?{parts.query}" if parts.query else parts.path,
                     headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        headers: dict[str, str] = {}
        for k, v in resp.getheaders():  # repeated headers (set-cookie) joined
            headers[k.lower()] = f"{headers[k.lower()]}, {v}" if k.lower() in headers else v
        return resp.status, headers, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _check_accounts(lines: dict[str, str], every: list[str]) -> None:
    """One account per role and Lien Chieu's operator, each printed once with a password and
    a one-time link; the wall's link is the operator's and signs in exactly once; the
    ``supervisor:``, ``engineer:`` and ``admin:`` lines are those roles' links."""
    accounts = [m.groupdict() for line in every if (m := ACCOUNT.fullmatch(line))]
    assert sorted((a["role"], a["scope"]) for a in accounts) == [
        ("admin", "city"), ("engineer", "city"), ("leadership", "city"),
        ("operator", "Lien Chieu"), ("operator", "city"), ("supervisor", "city")], every
    assert all(len(a["password"]) >= 12 for a in accounts)
    assert len({a["password"] for a in accounts}) == len(accounts)
    operator = next(a for a in accounts if a["role"] == "operator" and a["scope"] == "city")
    leader = next(a for a in accounts if a["role"] == "leadership")
    assert lines["wall"] == operator["link"] and "/login/once?t=" in lines["wall"]
    assert lines["summary"] == leader["link"] + "&next=/summary"
    for role in ("supervisor", "engineer", "admin"):  # each other role's way in, by name
        assert lines[role] == next(a["link"] for a in accounts if a["role"] == role), role
    status, headers, _ = _get(lines["wall"])
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"].split(";")[0]
    status, _, me = _get(lines["wall"].split("/login/once")[0] + "/api/me", cookie)
    assert status == 200 and json.loads(me)["login"] == operator["login"]
    status, headers, page = _get(lines["wall"])                   # the same link again
    assert status == 401 and "ioc_session" not in headers.get("set-cookie", "")
    assert "chỉ dùng một lần, trong vòng 15 phút" in page  # Vietnamese: the city's default


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True, check=False).stdout
    return [int(p) for p in out.split()]


def _start_demo(data_dir: Path, *, rate: float, stderr: int) -> subprocess.Popen[str]:
    """``ioc demo`` in its own process group, with none of this environment's IOC_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "ioc", "demo", "--no-browser", "--rate",
                             f"{rate:g}", "--seed", "3"], env=env, stdout=subprocess.PIPE,
                            stderr=stderr, text=True, start_new_session=True)


def _rows(store: Store, table: str) -> int:
    try:
        return store.count(table)
    except (Unavailable, sa.exc.DBAPIError):  # not created yet by the archive's migration
        return 0


@pytest.mark.slow
def test_demo_streams_every_group_and_stops_within_ten_seconds(tmp_path: Path) -> None:
    from kafka import KafkaConsumer

    proc = _start_demo(tmp_path, rate=400, stderr=subprocess.PIPE)
    try:
        has_wall = "dashboard" in cli.commands
        wanted = {"bootstrap"} | ({"wall", "summary", "supervisor", "engineer", "admin",
                                   "accounts"} if has_wall else set())
        every: list[str] = []
        lines = _read_lines_until(proc, wanted, timeout=90, every=every)
        assert set(lines) == wanted, (proc.poll(), lines)
        if has_wall:
            base = lines["wall"].split("/login/once")[0]
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                assert response.status == 200
            _check_accounts(lines, every)
        consumer = KafkaConsumer(*[events_topic(g) for g in GROUP_SLUGS],
                                 bootstrap_servers=lines["bootstrap"],
                                 auto_offset_reset="earliest")
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while len(seen) < len(GROUP_SLUGS) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
                for message in batch:
                    payload = json.loads(message.value)
                    for reading in payload if isinstance(payload, list) else [payload]:
                        seen.add(reading["group"])
        consumer.close()
        assert seen == set(GROUP_SLUGS)
        # the archive writes the worker's window summaries into the demo's SQLite file
        archive = Store(f"sqlite:///{tmp_path / 'demo' / 'archive.db'}")
        deadline = time.monotonic() + 120
        while not _rows(archive, "indicator_rollups"):
            assert time.monotonic() < deadline, "the demo's archive wrote no roll-ups"
            time.sleep(0.5)
        archive.close()
        children = _children_of(proc.pid)
        assert children, "the demo runs its parts as child processes"
    finally:
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - started < 10, "every child stopped within 10 s"
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or \
            "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_demo_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, IOC_PARTITIONS="many", IOC_DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "ioc", "demo", "--no-browser"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "ioc: error: IOC_PARTITIONS: expected an integer, got 'many'"


def test_demo_rejects_a_bad_argument_without_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "ioc", "demo", "--rate", "fast"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "'fast' is not a valid float" in result.stderr


def _child_running(parent: int, word: str) -> int | None:
    for pid in _children_of(parent):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if word.encode() in argv:
            return pid
    return None


@pytest.mark.slow
def test_demo_restarts_a_killed_worker_and_says_its_data_is_in_memory(tmp_path: Path) -> None:
    from streams.worker import health

    proc = _start_demo(tmp_path, rate=200, stderr=subprocess.STDOUT)
    seen: list[str] = []

    def wait_line(check: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if check in line:
                return line
        raise AssertionError(f"no line with {check!r}; the demo said:\n{''.join(seen)}")

    try:
        assert "gone when it stops" in wait_line("data: ")
        url = wait_line("worker: metrics on ").split(" on ")[1].strip()
        port = int(url.split(":")[2].split("/")[0])
        wait_line("running; Ctrl-C to stop")
        deadline = time.monotonic() + 120
        while not (health(port) or {}).get("ready"):
            assert time.monotonic() < deadline, "the worker never became ready"
            time.sleep(0.2)
        first = _child_running(proc.pid, "worker")
        assert first is not None
        os.kill(first, signal.SIGKILL)
        said = wait_line("worker exited", timeout=30)
        assert "killed by SIGKILL" in said and "restarting it in 1 s" in said
        assert "restarted (run 2" in wait_line("worker restarted", timeout=30)
        deadline = time.monotonic() + 120
        while not (health(port) or {}).get("ready"):
            assert proc.poll() is None, "the demo stopped instead of restarting its worker"
            assert time.monotonic() < deadline, "the restarted worker never became ready"
            time.sleep(0.2)
        assert _child_running(proc.pid, "worker") not in (None, first)
        assert proc.poll() is None
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, "".join(seen[-20:])
