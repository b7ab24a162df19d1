"""The pure parts of the live multivariate models: vectors, reservoir, schedule, the fitted
model and its checked bytes, and one subject's score-then-learn cycle."""

from __future__ import annotations

import math
import random

import msgspec
import numpy as np
import pytest

from detectors.forest_model import ForestModel, fit_model
from detectors.multivariate import (
    Reservoir,
    Schedule,
    indicator_features,
    indicator_vector,
    layout_of_metric,
    source_layouts,
)
from detectors.policies import Hysteresis, Threshold
from detectors.vector_model import IsoParams, VectorModel


def correlated(n: int, seed: int = 0) -> np.ndarray:
    """Rows of (inflow, outflow) where outflow follows inflow."""
    rng = np.random.default_rng(seed)
    q = rng.normal(400, 40, n)
    return np.column_stack([q, 0.98 * q + rng.normal(0, 5, n)])


def model(version: int = 1, rows: np.ndarray | None = None) -> ForestModel:
    return fit_model(correlated(256) if rows is None else rows, ("inflow", "outflow"),
                     version=version, n_estimators=25, max_samples=64, seed=3, threshold=0.75)


# --- vectors ---------------------------------------------------------------------------------
def test_layouts_take_sources_measuring_two_or_more_metrics() -> None:
    assert source_layouts("environment") == {
        "air_station": ("pm25", "pm10", "no2", "o3", "aqi"),
        "water_station": ("ph", "dissolved_oxygen", "cod", "tss")}
    assert layout_of_metric("environment")["no2"][0] == "air_station"
    for group in ("flooding", "traffic", "wastewater"):
        for names in source_layouts(group).values():
            assert len(names) >= 2


def test_indicator_vectors_follow_the_feature_order() -> None:
    names = indicator_features("citizen_feedback")
    x = indicator_vector("citizen_feedback", {}, 0, 0, {})
    assert len(x) == len(names) and names[-2:] == ("reporting_share", "open_alerts")
    assert math.isnan(x[-2]) and x[-1] == 0.0


# --- reservoir and schedule ------------------------------------------------------------------
def test_the_reservoir_is_bounded_uniform_and_reproducible() -> None:
    a, b = Reservoir(capacity=200, d=1, seed=9), Reservoir(capacity=200, d=1, seed=9)
    for i in range(20_000):
        a.add([float(i)])
        b.add([float(i)])
    assert len(a) == 200 and a.seen == 20_000
    assert a.rows().tolist() == b.rows().tolist()
    mean = float(a.rows().mean())
    assert 10_000 - 2_000 < mean < 10_000 + 2_000  # a uniform sample, not the latest rows


def test_reservoir_state_round_trips_and_refuses_what_does_not_fit() -> None:
    r = Reservoir(capacity=4, d=2, seed=1)
    for i in range(9):
        r.add([i, -i])
    twin = Reservoir.from_state(r.state())
    twin.add([9, -9])
    r.add([9, -9])
    assert twin.rows().tolist() == r.rows().tolist() and twin.seen == 10
    bad = r.state()
    bad[4] = bad[4][:-3]
    with pytest.raises(ValueError):
        Reservoir.from_state(bad)


def test_the_schedule_fits_at_min_samples_then_every_refit_every() -> None:
    s = Schedule(min_samples=10, refit_every=50)
    assert not s.due(9, 0) and s.due(10, 0)
    assert not s.due(59, 10) and s.due(60, 10)


# --- the fitted model --------------------------------------------------------------------------
def test_a_broken_relation_scores_high_and_names_the_metric_that_broke() -> None:
    m = model()
    assert m.score([410.0, 402.0])[0] < 0.5
    score, raw = m.score([420.0, 300.0])  # each value seen before, not together
    assert score > 0.9 and raw > m.threshold
    assert m.contributions([420.0, 300.0])[0][0] in ("inflow", "outflow")
    assert m.contributions([900.0, 400.0])[0][0] == "inflow"


def test_fits_are_reproducible_and_their_bytes_restore_the_same_scores() -> None:
    a, b = model(), model()
    assert a.to_bytes() == b.to_bytes()
    assert model(version=2).to_bytes() != a.to_bytes()  # the version seeds the fit
    twin = ForestModel.from_bytes(a.to_bytes())
    for x in ([400.0, 392.0], [420.0, 300.0], [math.nan, 390.0]):
        assert twin.score(x) == a.score(x)
    assert (twin.version, twin.features, twin.samples) == (1, ("inflow", "outflow"), 256)


def test_model_bytes_are_plain_data_not_pickle() -> None:
    fields = msgspec.msgpack.decode(model().to_bytes())
    assert fields[0] == "ioc.forest"
    assert all(isinstance(f, int | float | str | bytes | list) for f in fields)


def _tampered(index: int, change: object) -> bytes:
    fields = msgspec.msgpack.decode(model().to_bytes())
    fields[index] = change(fields[index]) if callable(change) else change
    return msgspec.msgpack.encode(fields)


def _arr(b: bytes, dtype: str, edit: object) -> bytes:
    a = np.frombuffer(b, dtype=dtype).copy()
    edit(a)  # type: ignore[operator]
    return a.tobytes()


@pytest.mark.parametrize("index, change", [
    (0, "pickle"),                                                       # not a model
    (11, lambda b: _arr(b, "<i4", lambda a: a.__setitem__(0, 0))),       # a child loops back
    (12, lambda b: _arr(b, "<i4", lambda a: a.__setitem__(0, 10**6))),   # outside the tree
    (13, lambda b: _arr(b, "<i4", lambda a: a.__setitem__(0, 7))),       # no such feature
    (14, lambda b: b[:-8]),                                              # arrays differ
    (7, [1.0]),                                                          # whitening size
    (10, lambda b: _arr(b, "<i4", lambda a: a.__setitem__(1, 10**6))),   # roots out of order
])
def test_model_bytes_that_do_not_check_are_refused(index: int, change: object) -> None:
    with pytest.raises(ValueError):
        ForestModel.from_bytes(_tampered(index, change))
    with pytest.raises(ValueError):
        ForestModel.from_bytes(b"\x93junk")


# --- one subject ---------------------------------------------------------------------------------
PARAMS = IsoParams(min_samples=32, reservoir=64, refit_every=40, n_estimators=20,
                   max_samples=32)


def fed(n: int, *, fit: bool = True, seed: int = 2) -> tuple[VectorModel, float]:
    vm = VectorModel(("a", "b"), Threshold(0.9), PARAMS)
    rng = random.Random(seed)
    end = 0.0
    for _ in range(n):
        end += 60.0
        a = rng.gauss(10, 1)
        step = vm.step([a, a + rng.gauss(0, 0.1)], end=end)
        if step.fit_due and fit:
            vm.install(fit_model(**vm.fit_request()))
    return vm, end


def test_a_subject_scores_before_it_learns_and_skips_windows_it_has_seen() -> None:
    vm, end = fed(40)
    assert vm.model is not None and vm.model.version == 1
    seen = vm.reservoir.seen
    odd = vm.step([11.0, 8.0], end=end + 60)
    assert odd.firing and odd.top and vm.reservoir.seen == seen + 1
    again = vm.step([11.0, 8.0], end=end + 60)  # the same window, read again after a restart
    assert again.replayed and not again.firing and vm.reservoir.seen == seen + 1


def test_refits_follow_the_schedule_and_only_newer_models_are_swapped_in() -> None:
    vm, _ = fed(75)
    assert vm.model is not None and vm.model.version == 2  # at 32, then 72
    older = fit_model(**{**vm.fit_request(), "version": 1})
    assert not vm.install(older) and vm.model.version == 2


def test_a_failed_fit_is_asked_for_again_at_the_next_window() -> None:
    vm, end = fed(32, fit=False)
    assert vm.pending and vm.model is None
    assert not vm.install(None)
    assert vm.step([10.0, 10.0], end=end + 60).fit_due


def test_a_subject_restored_from_its_state_and_model_scores_identically() -> None:
    vm, end = fed(40)
    pol = Threshold(0.9) | Hysteresis(2, 1)
    vm.policy = pol
    twin = VectorModel.from_state(vm.state(), pol.clone(), PARAMS)
    assert twin.model is None and VectorModel.model_version_of(vm.state()) == 1
    assert twin.install_bytes(vm.model.to_bytes()) and not twin.pending  # type: ignore[union-attr]
    for k, x in enumerate(([10.0, 10.05], [11.0, 8.0], [11.0, 8.0])):
        a, b = vm.step(x, end=end + 60 * (k + 1)), twin.step(x, end=end + 60 * (k + 1))
        assert (a.score, a.firing, a.fit_due) == (b.score, b.firing, b.fit_due)


def test_a_fit_in_flight_when_the_state_was_taken_is_asked_for_again() -> None:
    vm, end = fed(31)
    vm.step([10.0, 10.0], end=end + 60)  # the 32nd: a fit is asked for, never answered
    assert vm.pending
    twin = VectorModel.from_state(vm.state(), Threshold(0.9), PARAMS)
    assert twin.step([10.0, 10.0], end=end + 120).fit_due
