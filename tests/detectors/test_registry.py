"""Entry-point discovery and validation (detectors/registry.py)."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import EntryPoint

import pytest

from detectors.base import Detector
from detectors.registry import GROUP, PluginWarning, load_all, load_entry_point
from ioc.catalog import CATALOG, group
from ioc.errors import PluginError

BUILT_INS = {
    "threshold", "physical_range", "robust_z", "ewma", "cusum", "seasonal", "stuck", "silence",
    "count_surge", "isolation_forest",
}


def ep(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"detector_plugin_samples:{target}", group=GROUP)


def test_built_ins_are_found_through_entry_points_with_their_origin() -> None:
    reg = load_all(require=True)
    assert set(reg.names()) >= BUILT_INS
    for name in BUILT_INS:
        p = reg.plugin(name)
        assert p.origin == "ioc-monitor" and p.cls.name == name and issubclass(p.cls, Detector)
        json.dumps(p.describe(), allow_nan=False)
    assert reg.plugin("isolation_forest").kind == "vector"
    assert reg.plugin("silence").kind == "window" and reg.plugin("silence").health


def test_every_detector_the_catalog_names_is_registered_and_builds_for_its_metric() -> None:
    reg = load_all(require=True)
    for g in CATALOG:
        for spec in g.metrics:
            built = reg.for_metric(spec)
            assert set(built) == set(spec.detectors)
            if "threshold" in built:
                t = built["threshold"]
                assert (t.above, t.below) == (spec.breach_above, spec.breach_below)  # type: ignore[attr-defined]
            if "physical_range" in built:
                p = built["physical_range"]
                assert (p.low, p.high) == spec.physical  # type: ignore[attr-defined]


def test_for_metric_applies_overrides_and_names_bad_ones() -> None:
    reg = load_all(require=True)
    spec = group("environment").metric("pm25")
    built = reg.for_metric(spec, {"robust_z": {"window": 48}})
    assert built["robust_z"].params()["window"] == 48
    with pytest.raises(PluginError, match=r"robust_z.*cannot build for metric 'pm25'"):
        reg.for_metric(spec, {"robust_z": {"window": 1}})


def test_create_validates_parameters_with_the_detector_name() -> None:
    reg = load_all(require=True)
    with pytest.raises(PluginError, match="'cusum': bad parameters"):
        reg.create("cusum", nonsense=1)
    with pytest.raises(PluginError, match=r"no such detector .*known: .*robust_z"):
        reg.create("nope")


def test_a_good_plugin_loads() -> None:
    p = load_entry_point(ep("good", "Good"))
    assert p.cls.name == "good" and p.defaults() == {"limit": 100.0} and p.origin == "?"


@pytest.mark.parametrize(("name", "target", "cause"), [
    ("missing", "DoesNotExist", "cannot import"),
    ("not_a_detector", "NotADetector", "not a subclass of detectors.base.Detector"),
    ("abstract", "Abstract", "does not implement learn_one"),
    ("misnamed", "Misnamed", "differs from Misnamed.name='something_else'"),
    ("no_version", "NoVersion", "version must be a non-empty string"),
    ("needs_param", "NeedsParam", "without a default: \\['limit'\\]"),
    ("positional", "Positional", "must be keyword-only: \\['limit'\\]"),
    ("out_of_range", "OutOfRange", "float in \\[0, 1\\], got 1.5"),
    ("crashes_on_nan", "CrashesOnNan", "smoke check failed: ValueError: nan!"),
    ("forgets_state", "ForgetsState", "after set_state\\(get_state\\(\\)\\) scores differ"),
])
def test_a_broken_plugin_is_named_with_its_cause(name: str, target: str, cause: str) -> None:
    with pytest.raises(PluginError, match=cause) as info:
        load_entry_point(ep(name, target))
    assert info.value.name == name
    assert str(info.value).startswith(f"detector plugin {name!r}: ")


def test_a_missing_module_is_reported_not_raised_raw() -> None:
    bad = EntryPoint(name="ghost", value="no_such_module_anywhere:Ghost", group=GROUP)
    with pytest.raises(PluginError, match=r"cannot import .*ModuleNotFoundError"):
        load_entry_point(bad)


def test_load_all_without_require_warns_and_keeps_the_good_ones() -> None:
    eps = [ep("good", "Good"), ep("abstract", "Abstract"), ep("out_of_range", "OutOfRange")]
    with pytest.warns(PluginWarning) as caught:
        reg = load_all(require=False, entry_points=eps)
    assert reg.names() == ["good"]
    assert [f.name for f in reg.failures] == ["abstract", "out_of_range"]
    assert any("'abstract'" in str(w.message) for w in caught)
    with pytest.raises(PluginError, match="abstract"):
        reg.plugin("abstract")  # asking for a failed plugin repeats why it failed


def test_load_all_with_require_raises_the_first_failure_and_counts_the_rest() -> None:
    eps = [ep("good", "Good"), ep("abstract", "Abstract"), ep("out_of_range", "OutOfRange")]
    with pytest.raises(PluginError, match=r"'abstract'.*and 1 more failing"):
        load_all(require=True, entry_points=eps)


def test_two_plugins_claiming_one_name_clash() -> None:
    eps = [ep("good", "Good"), ep("good", "GoodTwin")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        reg = load_all(entry_points=eps)
    assert reg.names() == ["good"] and reg.plugin("good").target == "detector_plugin_samples:Good"
    assert len(reg.failures) == 1 and reg.failures[0].name == "good"
    assert "GoodTwin from ? clashes with detector_plugin_samples:Good" in reg.failures[0].reason


def test_the_same_entry_point_listed_twice_is_loaded_once() -> None:
    reg = load_all(require=True, entry_points=[ep("good", "Good"), ep("good", "Good")])
    assert reg.names() == ["good"] and not reg.failures
