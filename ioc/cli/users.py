"""Personal accounts and API keys: ``ioc users add|list|set|disable|passwd`` and
``ioc keys add|list|revoke``, on the archive's database (``IOC_DATABASE_URL``, else SQLite
under ``IOC_DATA_DIR``).

A password is read without echo (asked twice) or, with ``--password-stdin``, as the first
line of standard input; never from an argument (it would show in ``ps`` and shell history).
Mistakes (a bad role, an unknown district or group, a short password, a taken login) are one
line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import getpass
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from ioc.cli.root import cli, load_settings
from ioc.errors import UsageError

if TYPE_CHECKING:
    from archive.access import Access
    from archive.accounts import Accounts

ROLE_HELP = "operator, supervisor, leadership, engineer or admin"


@contextmanager
def _open() -> Iterator[tuple[Accounts, Access]]:
    from archive.access import Access
    from archive.accounts import Accounts
    from archive.run import open_store

    settings = load_settings()
    store = open_store(settings, migrate=True)
    try:
        yield (Accounts(store, min_password_length=settings.password_min_length),
               Access(store, max_age_s=settings.session_max_age_s,
                      idle_s=settings.session_idle_s))
    finally:
        store.close()


def _password(from_stdin: bool) -> str:
    """The new password: stdin's first line, or asked twice without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UsageError("--password-stdin: standard input is empty")
        return line.rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


_stdin_option = click.option("--password-stdin", is_flag=True,
                             help="Read the password from the first line of standard input.")
_districts_option = click.option("--districts", default=None, metavar="NAMES",
                                 help="Comma-separated districts of the scope.")
_groups_option = click.option("--groups", default=None, metavar="SLUGS",
                              help="Comma-separated service groups of the scope.")


def _contact_options(command: Any) -> Any:
    """``--email --phone --channels --min-severity --quiet-hours --critical-in-quiet --lang``:
    what the notifier (``ioc notify``) reads of an account."""
    for option in reversed((
            click.option("--email", default=None, help="Email address for notifications."),
            click.option("--phone", default=None, help="Phone number for SMS (+84...)."),
            click.option("--channels", default=None, metavar="LIST",
                         help="Channels to use: email,sms,webhook (empty: every one)."),
            click.option("--min-severity", default=None,
                         help="Notify from this severity up (info, warning, major, critical)."),
            click.option("--quiet-hours", default=None, metavar="HH:MM-HH:MM",
                         help="No notifications then (Da Nang time; empty: none)."),
            click.option("--critical-in-quiet/--no-critical-in-quiet", default=None,
                         help="Whether critical alerts still come in quiet hours (default: "
                              "yes)."),
            click.option("--lang", default=None, help="Language of notifications: vi, en."))):
        command = option(command)
    return command


def _set_contact(accounts: Accounts, login: str, contact: dict[str, Any]) -> None:
    """Store the contact options given (none: nothing) and print the account's contact."""
    from notify.contacts import Contacts

    given = {k: v for k, v in contact.items() if v is not None}
    if not given:
        return
    book = Contacts(accounts.store)
    book.set(login, quiet_critical=given.pop("critical_in_quiet", None),
             **{("language" if k == "lang" else k): v for k, v in given.items()})
    click.echo(f"notifications: {book.describe(login)}")


def _scope(districts: str | None, groups: str | None) -> Any:
    from archive.accounts import parse_scope

    return parse_scope(districts or "", groups or "")


@cli.group("users")
def users_command() -> None:
    """Personal accounts of the dashboard: add, list, change, disable, set passwords."""


@users_command.command("add")
@click.argument("login")
@click.option("--role", required=True, help=ROLE_HELP + ".")
@click.option("--name", "display_name", default="", help="Display name (default: the login).")
@_districts_option
@_groups_option
@_stdin_option
@_contact_options
def users_add(login: str, role: str, display_name: str, districts: str | None,
              groups: str | None, password_stdin: bool, **contact: Any) -> None:
    """Add an account (scope: the districts and groups given; none: the whole city)."""
    from archive.accounts import check_login, check_role
    from notify.contacts import check_contact

    check_login(login)
    check_role(role)
    scope = _scope(districts, groups)
    check_contact(**{("language" if k == "lang" else k): v for k, v in contact.items()
                     if k != "critical_in_quiet"})
    with _open() as (accounts, _):
        from archive.accounts import check_password

        password = _password(password_stdin)
        check_password(password, accounts.min_password_length)
        account = accounts.add(login, password, display_name=display_name, role=role,
                               scope=scope)
        click.echo(f"added {account.login} ({account.display_name}): {account.role}, "
                   f"{account.scope.describe()}")
        _set_contact(accounts, account.login, contact)


@users_command.command("list")
def users_list() -> None:
    """List the accounts (never a password or its hash)."""
    with _open() as (accounts, _):
        rows = accounts.list()
    if not rows:
        click.echo("no accounts (add one with `ioc users add LOGIN --role ROLE`)")
    for a in rows:
        state = "disabled" if a.disabled else "enabled"
        click.echo(f"{a.login:<24} {a.role:<11} {state:<8} {a.scope.describe():<36} "
                   f"{a.display_name}")


@users_command.command("set")
@click.argument("login")
@click.option("--role", default=None, help=ROLE_HELP + ".")
@click.option("--name", "display_name", default=None, help="New display name.")
@_districts_option
@_groups_option
@click.option("--city", is_flag=True, help="Clear the scope: the whole city.")
@click.option("--enable", is_flag=True, help="Enable a disabled account.")
@_contact_options
def users_set(login: str, role: str | None, display_name: str | None, districts: str | None,
              groups: str | None, city: bool, enable: bool, **contact: Any) -> None:
    """Change an account's role, display name, scope, or enable it again."""
    from archive.accounts import Scope, check_role

    if role is not None:
        check_role(role)
    if city and (districts or groups):
        raise UsageError("--city clears the scope: give it without --districts or --groups")
    scope = Scope() if city else (_scope(districts, groups)
                                  if districts is not None or groups is not None else None)
    with _open() as (accounts, _):
        a = accounts.update(login, display_name=display_name, role=role, scope=scope,
                            enabled=True if enable else None)
        click.echo(f"{a.login} ({a.display_name}): {a.role}, {a.scope.describe()}, "
                   f"{'disabled' if a.disabled else 'enabled'}")
        _set_contact(accounts, a.login, contact)


@users_command.command("disable")
@click.argument("login")
def users_disable(login: str) -> None:
    """Disable an account: it cannot sign in, and its sessions end at once."""
    with _open() as (accounts, _):
        a = accounts.disable(login)
    click.echo(f"disabled {a.login}; their sessions ended")


@users_command.command("passwd")
@click.argument("login")
@_stdin_option
def users_passwd(login: str, password_stdin: bool) -> None:
    """Set an account's password; its sessions end at once."""
    with _open() as (accounts, _):
        accounts.get(login)
        accounts.set_password(login, _password(password_stdin))
    click.echo(f"password of {login.lower()} changed; their sessions ended")


@cli.group("keys")
def keys_command() -> None:
    """API keys of machine clients (bearer tokens with a role and a scope)."""


@keys_command.command("add")
@click.argument("name")
@click.option("--role", required=True, help=ROLE_HELP + ".")
@_districts_option
@_groups_option
def keys_add(name: str, role: str, districts: str | None, groups: str | None) -> None:
    """Create a key and print its secret once (it is stored only hashed); role `ingest`: a
    key that may only post readings to `ioc ingest http`."""
    from archive.accounts import check_key_role

    check_key_role(role)
    scope = _scope(districts, groups)
    with _open() as (_, access):
        key, secret = access.add_key(name, role, scope)
    click.echo(f"key {key.name}: {key.role}, {key.scope.describe()}")
    click.echo(secret)
    click.echo("(shown once: store it now; send it as `Authorization: Bearer <key>`)", err=True)


@keys_command.command("list")
def keys_list() -> None:
    """List the keys (never their secrets)."""
    with _open() as (_, access):
        rows = access.keys()
    if not rows:
        click.echo("no API keys (create one with `ioc keys add NAME --role ROLE`)")
    for k in rows:
        state = f"revoked {_when(k.revoked_at)}" if k.revoked_at else "live"
        click.echo(f"{k.name:<24} {k.role:<11} {k.scope.describe():<36} "
                   f"last used {_when(k.last_used)}  {state}")


@keys_command.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke a key at once."""
    with _open() as (_, access):
        access.revoke_key(name)
    click.echo(f"revoked key {name.lower()}")
