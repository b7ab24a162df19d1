"""``ioc users add/set --email --phone ...``: an account's contact details and notification
preferences, checked, stored and shown; and ``ioc notify check`` on a config file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from archive.store import Store, default_url
from notify.contacts import Contacts

IOC = Path(sys.executable).parent / "ioc"
PASSWORD = "correct horse battery staple"


def ioc(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "IOC_DATA_DIR": str(tmp_path)}
    return subprocess.run([str(IOC), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)


def test_users_carry_their_contact_details_and_preferences(tmp_path: Path) -> None:
    got = ioc(tmp_path, "users", "add", "lan", "--role", "operator", "--password-stdin",
              "--email", "lan@danang.test", "--phone", "+84 905 000 001",
              "--quiet-hours", "22:00-06:00", "--lang", "en", stdin=PASSWORD + "\n")
    assert got.returncode == 0, got.stderr
    assert "notifications: email lan@danang.test, phone +84905000001, channels all, " \
           "from info, quiet 22:00-06:00, en" in got.stdout
    got = ioc(tmp_path, "users", "set", "lan", "--channels", "sms", "--min-severity", "major",
              "--no-critical-in-quiet")
    assert got.returncode == 0, got.stderr
    store = Store(default_url(tmp_path))
    try:
        lan = Contacts(store).all()["lan"]
    finally:
        store.close()
    assert (lan.email, lan.phone, lan.channels, lan.min_severity, lan.quiet_critical,
            lan.language) == ("lan@danang.test", "+84905000001", ("sms",), "major", False, "en")
    bad = ioc(tmp_path, "users", "set", "lan", "--quiet-hours", "late")
    assert bad.returncode != 0 and "--quiet-hours: expected HH:MM-HH:MM" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = ioc(tmp_path, "users", "add", "minh", "--role", "operator", "--password-stdin",
              "--email", "not-an-address", stdin=PASSWORD + "\n")
    assert bad.returncode != 0 and "--email: not an email address" in bad.stderr
    assert "minh" not in ioc(tmp_path, "users", "list").stdout


def test_notify_check_names_the_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "notify.toml"
    config.write_text('[[receivers]]\nname = "desk"\nemail = "desk@x.test"\n\n[[routes]]\n'
                      'name = "r"\nreceivers = ["desk"]\nmatch = { severity = "loud" }\n')
    got = ioc(tmp_path, "notify", "check", str(config))
    assert got.returncode != 0
    assert f"{config}:8: routes[0].match.severity: unknown value 'loud'" in got.stderr
    repo = Path(__file__).resolve().parents[2]
    got = ioc(tmp_path, "notify", "check", str(repo / "examples" / "notify.toml"))
    assert got.returncode == 0 and "3 routes, 5 receivers" in got.stdout, got.stderr


def test_the_demo_notifier_config_is_valid_and_writes_a_mailbox(tmp_path: Path) -> None:
    """`ioc demo`'s notifier config parses; its emails go to the local mailbox file."""
    from ioc.tools.demo import notifier_config
    from notify.config import parse

    cfg = parse(notifier_config(tmp_path / "mailbox.mbox", "http://127.0.0.1:8080"), "demo")
    assert cfg.smtp.mbox == str(tmp_path / "mailbox.mbox")
    assert [r.name for r in cfg.routes] == ["critical-escalation", "city", "sensor-health"]
    assert cfg.routes[0].escalation[1].after == 120.0
