"""The README stays true: its settings table matches the code, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from ioc.cli import cli
from ioc.settings import settings_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_settings_table_is_current() -> None:
    assert settings_table() in README, "run: .venv/bin/python scripts/readme_settings.py"


def test_every_ioc_command_in_the_readme_exists() -> None:
    for name in set(re.findall(r"`ioc ([a-z]+)", README)):
        assert name in cli.commands, f"README mentions `ioc {name}` but the CLI has no such command"


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "scripts/demo.sh" in README and "scripts/test.sh" in README
    for script in ("scripts/demo.sh", "scripts/test.sh", ".ci/run"):
        path = ROOT / script
        assert path.exists() and path.stat().st_mode & 0o111, f"{script} is executable"
    assert "scripts/test.sh" in (ROOT / ".ci/run").read_text()
