"""The house's one direction of imports (STYLE.md), checked on the code's own import statements.

The kernel (``ioc`` without its ``kafka``, ``tools`` and ``cli`` subpackages) imports only
itself; ``detectors`` only the kernel; ``streams`` the kernel, ``ioc.kafka`` and ``detectors``;
``archive`` the kernel and ``ioc.kafka``; ``dashboards`` the kernel, ``ioc.kafka`` and
``archive``; ``notify`` the kernel, ``ioc.kafka`` and ``archive``; the running tools never
the command line. Only ``ioc.cli`` wires them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("ioc", "detectors", "streams", "dashboards", "archive", "ingest", "notify")

# room -> the rooms it may import (a room is a package or an ``ioc`` subpackage)
ALLOWED: dict[str, set[str]] = {
    "ioc": {"ioc"},
    "ioc.kafka": {"ioc", "ioc.kafka"},
    "ioc.tools": {"ioc", "ioc.kafka", "ioc.tools"},
    "detectors": {"ioc", "detectors"},
    "archive": {"ioc", "ioc.kafka", "archive"},
    "streams": {"ioc", "ioc.kafka", "detectors", "streams"},
    "dashboards": {"ioc", "ioc.kafka", "archive", "dashboards"},
    "ingest": {"ioc", "ioc.kafka", "archive", "ingest"},
    "notify": {"ioc", "ioc.kafka", "archive", "notify"},
}


def room_of(module: str) -> str | None:
    """The room a dotted module name lives in (None for third-party modules).

    >>> room_of("ioc.events"), room_of("ioc.tools.simulator"), room_of("streams.app")
    ('ioc', 'ioc.tools', 'streams')
    """
    parts = module.split(".")
    if parts[0] not in FIRST_PARTY:
        return None
    if parts[0] == "ioc" and len(parts) > 1 and parts[1] in ("kafka", "tools", "cli"):
        return f"ioc.{parts[1]}"
    return parts[0]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in a file, function-level ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in FIRST_PARTY:  # `from ioc import tools` names a room too
                found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    files: list[Path] = []
    for package in FIRST_PARTY:
        files.extend(p for p in sorted((ROOT / package).rglob("*.py"))
                     if "migrations" not in p.parts)
    return files


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path: Path) -> None:
    """A module imports only the rooms below its own (the command line excepted)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    room = room_of(module)
    assert room is not None
    if room == "ioc.cli" or module == "ioc.__main__":
        return
    wrong = [f"line {line}: {name}" for line, name in imports_of(path)
             if (target := room_of(name)) is not None and target not in ALLOWED[room]]
    assert not wrong, f"{module} ({room}) imports a room above it: {'; '.join(wrong)}"
