"""The example plugin (examples/ioc-detector-example) installs like any third-party plugin:
the registry finds it through its entry point and it passes the conformance suite."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.checks import CHECKS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ioc-detector-example"
BIN = Path(sys.executable).parent


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    res = run(sys.executable, "-m", "pip", "--disable-pip-version-check", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.mark.slow
def test_example_plugin_installs_registers_and_passes_the_suite(tmp_path: Path) -> None:
    src = tmp_path / "ioc-detector-example"  # build from a copy: keep the checkout clean
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(
        "*.egg-info", "build", "__pycache__", ".pytest_cache"))
    # offline: no index, no build isolation (the venv's setuptools and wheel build it)
    pip("install", "-q", "--no-index", "--no-deps", "--no-build-isolation", str(src))
    try:
        listed = run(str(BIN / "ioc"), "detectors", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        by_name = {d["name"]: d for d in json.loads(listed.stdout)["detectors"]}
        roc = by_name["rate_of_change"]
        assert roc["origin"] == "ioc-detector-example" and roc["origin_version"] == "0.1.0"
        assert roc["target"] == "ioc_detector_example:RateOfChange"
        assert roc["params"] == {"threshold": 6.0, "alpha": 0.05, "min_samples": 10}

        loaded = run(sys.executable, "-c",
                     "from detectors.registry import load_all; "
                     "r = load_all(require=True); print(r.plugin('rate_of_change').origin)")
        assert loaded.returncode == 0 and loaded.stdout.strip() == "ioc-detector-example", (
            loaded.stderr)

        checked = run(str(BIN / "ioc"), "detectors", "check", "rate_of_change",
                      "--updates", "50000")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.splitlines()[-1] == f"{len(CHECKS)} passed, 0 failed"

        own = run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "--rootdir", str(src), "-c", str(src / "pyproject.toml"), str(src))
        assert own.returncode == 0, own.stdout[-3000:]
    finally:
        pip("uninstall", "-q", "-y", "ioc-detector-example")
    gone = run(str(BIN / "ioc"), "detectors", "list", "--json")
    assert "rate_of_change" not in gone.stdout
