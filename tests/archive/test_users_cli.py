"""``ioc users`` and ``ioc keys``: passwords from stdin only, one-line errors, and what the
commands change in the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archive.access import Access
from archive.accounts import Accounts
from archive.store import Store, default_url

IOC = Path(sys.executable).parent / "ioc"
PASSWORD = "correct horse battery staple"


def ioc(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "IOC_DATA_DIR": str(tmp_path)}
    return subprocess.run([str(IOC), *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(default_url(tmp_path))


def test_users_add_list_set_disable_passwd(tmp_path: Path, store: Store) -> None:
    got = ioc(tmp_path, "users", "add", "Lan", "--role", "operator", "--name", "Lan Nguyen",
              "--districts", "Lien Chieu", "--password-stdin", stdin=PASSWORD + "\n")
    assert got.returncode == 0, got.stderr
    assert "added lan (Lan Nguyen): operator, districts=Lien Chieu" in got.stdout
    assert PASSWORD not in got.stdout + got.stderr
    listed = ioc(tmp_path, "users", "list").stdout
    assert "lan" in listed and "enabled" in listed and "Lien Chieu" in listed
    assert ioc(tmp_path, "users", "set", "lan", "--role", "supervisor", "--city").returncode == 0
    accounts, access = Accounts(store), Access(store)
    row, _ = accounts.check("lan", PASSWORD)
    assert row is not None and row.role == "supervisor" and accounts.get("lan").scope.city_wide
    token = access.open_session(row.id)
    assert ioc(tmp_path, "users", "passwd", "lan", "--password-stdin",
               stdin="a brand new password\n").returncode == 0
    assert access.session(token).reason == "revoked"
    assert accounts.check("lan", "a brand new password")[1] == "ok"
    assert ioc(tmp_path, "users", "disable", "lan").returncode == 0
    assert accounts.check("lan", "a brand new password")[1] == "disabled"
    assert "disabled" in ioc(tmp_path, "users", "list").stdout


@pytest.mark.parametrize("args, stdin, message", [
    (["users", "add", "x", "--role", "root"], PASSWORD, "unknown role 'root'"),
    (["users", "add", "x", "--role", "operator", "--districts", "Atlantis"], PASSWORD,
     "unknown district 'Atlantis'"),
    (["users", "add", "x", "--role", "operator", "--groups", "lava"], PASSWORD,
     "unknown group 'lava'"),
    (["users", "add", "x", "--role", "operator"], "short", "the password is too short"),
    (["users", "disable", "nobody"], "", "no account 'nobody'"),
    (["keys", "revoke", "nothing"], "", "no live API key"),
])
def test_mistakes_are_one_line_without_traceback(tmp_path: Path, args: list[str], stdin: str,
                                                 message: str) -> None:
    if args[:2] == ["users", "add"]:
        args = [*args, "--password-stdin"]
    got = ioc(tmp_path, *args, stdin=stdin + "\n")
    assert got.returncode != 0
    assert message in got.stderr and "Traceback" not in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1


def test_a_duplicate_login_is_refused(tmp_path: Path) -> None:
    for expected in (0, 1):
        got = ioc(tmp_path, "users", "add", "lan", "--role", "operator", "--password-stdin",
                  stdin=PASSWORD + "\n")
        assert got.returncode == expected
    assert "the login 'lan' is taken" in got.stderr


def test_the_password_is_never_an_argument(tmp_path: Path) -> None:
    got = ioc(tmp_path, "users", "add", "lan", "--role", "operator", "--password", PASSWORD)
    assert got.returncode == 2 and "No such option" in got.stderr


def test_keys_are_shown_once_and_listed_without_secret(tmp_path: Path, store: Store) -> None:
    got = ioc(tmp_path, "keys", "add", "grafana", "--role", "leadership")
    assert got.returncode == 0, got.stderr
    secret = got.stdout.strip().splitlines()[-1]
    assert secret.startswith("iok_") and "shown once" in got.stderr
    listed = ioc(tmp_path, "keys", "list").stdout
    assert "grafana" in listed and "live" in listed and secret not in listed
    assert Access(store).key(secret) is not None
    assert ioc(tmp_path, "keys", "revoke", "grafana").returncode == 0
    assert Access(store).key(secret) is None
    assert "revoked" in ioc(tmp_path, "keys", "list").stdout
