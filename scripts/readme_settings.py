"""Refresh the README's configuration table from ioc/settings.py (after adding a setting)."""

from __future__ import annotations

import sys
from pathlib import Path

from ioc.settings import settings_table

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def render(text: str) -> str:
    """``text`` with the block between the markers replaced by the current table."""
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{settings_table()}\n{END}{tail}"


if __name__ == "__main__":
    readme = Path(__file__).resolve().parent.parent / "README.md"
    new = render(readme.read_text())
    if "--check" in sys.argv:
        sys.exit(0 if new == readme.read_text() else "README settings table is stale")
    readme.write_text(new)
