"""The detector runtime: catalog defaults, the TOML config file, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.policies import Chain, RollingQuantile, Threshold
from ioc import catalog
from ioc.errors import ConfigError
from ioc.settings import Settings
from streams.runtime import DetectorRuntime, build_policy


@pytest.fixture(scope="module")
def default() -> DetectorRuntime:
    return DetectorRuntime.build()


def build(text: str) -> DetectorRuntime:
    return DetectorRuntime.build(config_text=text, config_name="d.toml")


def test_every_catalog_metric_runs_the_detectors_the_catalog_names(
        default: DetectorRuntime) -> None:
    for g in catalog.CATALOG:
        for spec in g.metrics:
            plan = default.plan(g.slug, spec.name)
            assert [d.name for d in plan.detectors] == list(spec.detectors)
            assert plan.kind == spec.kind
    assert default.source == "catalog"


def test_lanes_follow_the_detector_health_flag(default: DetectorRuntime) -> None:
    plan = default.plan("flooding", "flood_depth")
    health = {d.name for d in plan.detectors if d.health}
    assert health == {"physical_range", "stuck", "silence"}


def test_stateless_detectors_and_plain_thresholds_are_shared(default: DetectorRuntime) -> None:
    plan = default.plan("environment", "pm25")
    for d in plan.detectors:
        assert (d.instance() is d.instance()) == d.shared
    assert {d.name for d in plan.detectors if d.shared} == {"threshold", "physical_range"}
    assert plan.policies_shared  # every policy is a stateless Threshold(0.9)
    assert all(d.policy == Threshold(0.9) or d.policy.t == 0.9  # type: ignore[attr-defined]
               for d in plan.detectors)


def test_catalog_limits_reach_the_rule_detectors(default: DetectorRuntime) -> None:
    plan = default.plan("environment", "pm25")
    params = {d.name: d.params for d in plan.detectors}
    assert params["threshold"]["above"] == 55.0
    assert params["physical_range"] == {"low": 0.0, "high": 1000.0}


def test_config_replaces_adds_and_removes_detectors() -> None:
    rt = build("""
        [groups.traffic.speed]
        detectors = ["robust_z", "threshold"]
        add = ["ewma"]
        [groups.traffic.volume]
        remove = ["seasonal", "stuck"]
    """)
    assert [d.name for d in rt.plan("traffic", "speed").detectors] == [
        "robust_z", "threshold", "ewma"]
    assert [d.name for d in rt.plan("traffic", "volume").detectors] == [
        "robust_z", "physical_range"]
    assert rt.source == "d.toml"


def test_config_wildcard_metric_and_per_metric_override() -> None:
    rt = build("""
        [groups.flooding."*"]
        remove = ["robust_z"]
        [groups.flooding.rainfall]
        add = ["ewma"]
    """)
    assert "robust_z" not in [d.name for d in rt.plan("flooding", "flood_depth").detectors]
    assert [d.name for d in rt.plan("flooding", "rainfall").detectors] == [
        "threshold", "physical_range", "silence", "ewma"]


def test_config_parameters_global_then_per_metric() -> None:
    rt = build("""
        [params.robust_z]
        threshold = 4.5
        [groups.traffic.speed.params.robust_z]
        window = 96
    """)
    speed = {d.name: d for d in rt.plan("traffic", "speed").detectors}["robust_z"]
    volume = {d.name: d for d in rt.plan("traffic", "volume").detectors}["robust_z"]
    assert (speed.params["threshold"], speed.params["window"]) == (4.5, 96)
    assert (volume.params["threshold"], volume.params["window"]) == (4.5, 64)
    series = rt.plan("traffic", "speed").detectors[0].instance()
    assert series.params()["window"] == 96


def test_config_policies_build_per_series_instances() -> None:
    rt = build("""
        [policy]
        threshold = 0.95
        [groups.traffic.speed]
        policy = { quantile = 0.99, window = 50, min_duration_s = 120 }
    """)
    speed = rt.plan("traffic", "speed")
    assert isinstance(speed.detectors[0].policy, Chain)
    assert not speed.policies_shared
    assert isinstance(speed.detectors[0].policy.trigger, RollingQuantile)  # type: ignore[attr-defined]
    volume = rt.plan("traffic", "volume").detectors[0]
    assert isinstance(volume.policy, Threshold) and volume.policy.t == 0.95


def test_readings_detectors_are_marked() -> None:
    rt = build("""
        [groups.flooding.rainfall]
        readings = ["physical_range"]
    """)
    plan = rt.plan("flooding", "rainfall")
    assert [plan.detectors[i].name for i in plan.reading_indexes] == ["physical_range"]
    assert rt.reading_metrics("flooding") == frozenset({"rainfall"})
    assert rt.reading_metrics("traffic") == frozenset()


@pytest.mark.parametrize(("text", "message"), [
    ("[groups.nowhere.x]\n", "d.toml: groups.nowhere: unknown group"),
    ("[groups.traffic.snow]\n", "d.toml: groups.traffic.snow: unknown metric"),
    ("[groups.traffic.speed]\ndetectors = ['magic']\n", "no such detector"),
    ("[groups.traffic.speed]\ncolour = 1\n", "unknown keys ['colour']"),
    ("[params.robust_z]\nwindow = 1\n", "robust_z"),
    ("[policy]\nthreshold = 3\n", "t must be in [0, 1]"),
    ("[policy]\nthreshold = 0.9\nquantile = 0.9\n", "either threshold or quantile"),
    ("[groups.traffic.speed]\nreadings = ['ewma']\n", "not among its detectors"),
    ("[groups.traffic.speed]\nadd = ['isolation_forest']\n", "multivariate"),
    ("[weird]\n", "unknown sections"),
    ("not toml ===", "not valid TOML"),
])
def test_config_errors_name_the_file_and_the_place(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        build(text)
    assert message in str(err.value)
    assert str(err.value).startswith("d.toml") or "policy" in str(err.value)


def test_from_settings_reads_the_file_and_reports_a_missing_one(tmp_path: Path) -> None:
    cfg = tmp_path / "detectors.toml"
    cfg.write_text("[groups.traffic.speed]\ndetectors = ['threshold']\n")
    rt = DetectorRuntime.from_settings(Settings(detectors_config=str(cfg)))
    assert [d.name for d in rt.plan("traffic", "speed").detectors] == ["threshold"]
    with pytest.raises(ConfigError, match="IOC_DETECTORS_CONFIG: cannot read"):
        DetectorRuntime.from_settings(Settings(detectors_config=str(tmp_path / "none.toml")))


def test_build_policy_gates() -> None:
    p = build_policy({"threshold": 0.8, "fire_after": 2, "clear_after": 3})
    assert repr(p) == "Threshold(t=0.8) | Hysteresis(fire_after=2, clear_after=3)"
