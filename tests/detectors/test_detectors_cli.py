"""`ioc detectors list` and `ioc detectors check` (ioc/cli/detect.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner
from detector_plugin_samples import ForgetsState

import detectors.registry
from detectors.checks import CHECKS
from detectors.registry import GROUP, Plugin, PluginWarning, Registry, load_all
from ioc.cli import cli

IOC = Path(sys.executable).with_name("ioc")


def samples(*targets: tuple[str, str]) -> Registry:
    """A registry loaded from sample entry points (failures kept, warnings silenced)."""
    eps = [EntryPoint(name=n, value=f"detector_plugin_samples:{t}", group=GROUP)
           for n, t in targets]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return load_all(require=False, entry_points=eps)


def test_list_json_shows_every_built_in_with_version_origin_and_defaults() -> None:
    out = subprocess.run([str(IOC), "detectors", "list", "--json"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    doc = json.loads(out)
    by_name = {d["name"]: d for d in doc["detectors"]}
    assert {"robust_z", "silence", "isolation_forest"} <= set(by_name)
    rz = by_name["robust_z"]
    assert rz["version"] == "2" and rz["origin"] == "ioc-monitor"
    assert rz["params"] == {"window": 64, "threshold": 6.0, "min_samples": 16, "min_scale": 1e-9}
    assert by_name["silence"]["health"] is True and doc["failures"] == []


def test_list_text_names_failures_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = samples(("good", "Good"), ("abstract", "Abstract"))
    monkeypatch.setattr(detectors.registry, "load_all", lambda **_: reg)
    res = CliRunner().invoke(cli, ["detectors", "list"])
    assert res.exit_code == 1
    assert "good 1  [value]  from ? ?  (detector_plugin_samples:Good)" in res.output
    assert "    limit=100.0" in res.output
    assert "FAILED abstract: Abstract does not implement learn_one" in res.output


def test_check_prints_pass_per_check(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = samples(("good", "Good"))
    monkeypatch.setattr(detectors.registry, "load_all", lambda **_: reg)
    res = CliRunner().invoke(cli, ["detectors", "check", "good", "--updates", "2000"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "good 1 from ? (detector_plugin_samples:Good)"
    assert sum(line.startswith("PASS  ") for line in lines) == len(CHECKS)
    assert lines[-1] == f"{len(CHECKS)} passed, 0 failed"
    assert any(line.startswith("PASS  bounded_work") for line in lines)
    assert not any("throughput" in line for line in lines)  # timed: only with --min-rate


def test_check_times_throughput_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """--min-rate adds the timed floor to the counted checks (its verdict depends on the
    machine's load, so only its presence is checked)."""
    reg = samples(("good", "Good"))
    monkeypatch.setattr(detectors.registry, "load_all", lambda **_: reg)
    res = CliRunner().invoke(cli, ["detectors", "check", "good", "--updates", "2000",
                                   "--min-rate", "1"])
    lines = res.output.splitlines()
    checked = [line for line in lines if line.startswith(("PASS  ", "FAIL  "))]
    assert len(checked) == len(CHECKS) + 1, res.output
    assert checked[-1].split()[1] == "throughput"


def test_check_fails_with_exit_1_naming_the_broken_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # registered without validation (load_all would refuse it) to exercise `check` itself
    reg = Registry()
    reg.plugins["forgets_state"] = Plugin(
        "forgets_state", ForgetsState, "samples", "0", "detector_plugin_samples:ForgetsState")
    monkeypatch.setattr(detectors.registry, "load_all", lambda **_: reg)
    res = CliRunner().invoke(cli, ["detectors", "check", "forgets_state", "--updates", "2000"])
    assert res.exit_code == 1
    lines = res.output.splitlines()
    assert any(line.startswith("FAIL  state_round_trip") for line in lines)
    assert lines[-1] == f"{len(CHECKS) - 1} passed, 1 failed"


def test_check_of_an_unknown_detector_is_one_line_and_exit_1() -> None:
    res = subprocess.run([str(IOC), "detectors", "check", "no_such_thing"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("ioc: error: detector plugin 'no_such_thing': no such detector")
    assert len(res.stderr.splitlines()) == 1
