"""No built-in detector looks ahead (issue 16: "nothing may read a file's length, min or max
ahead of time"): fed a prefix of a series, a fresh detector gives exactly the first scores it
gives when fed the whole series, so its scores cannot depend on rows still to come."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.corpus import Series, default_nab_dir, read_series
from detectors.evaluation import run_series
from detectors.registry import load_all

REGISTRY = load_all(require=True)
BUILT_IN = sorted(n for n in REGISTRY.names() if REGISTRY.plugin(n).origin == "ioc-monitor")
NAB = default_nab_dir()
FILE = NAB / "data" / "realTraffic" / "speed_7578.csv"


def _series() -> Series:
    """A real NAB series (1,127 rows of traffic speed), else a synthetic one with a drift
    and a spike, so the test runs without the corpus too."""
    if FILE.is_file():
        return read_series(FILE, "realTraffic/speed_7578.csv")
    n = 1200
    rng = np.random.default_rng(7)
    values = 50 + np.linspace(0, 20, n) + rng.normal(0, 2, n)
    values[900] = 160.0
    times = np.datetime64("2020-01-01T00:00:00") + np.arange(n) * np.timedelta64(300, "s")
    return Series("synthetic", times, values)


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_prefix_scores_as_the_start_of_the_whole(name: str) -> None:
    whole = _series()
    cut = len(whole) * 3 // 5
    prefix = Series(whole.name, whole.times[:cut], whole.values[:cut])
    all_scores = run_series(REGISTRY.create(name), whole)
    first_scores = run_series(REGISTRY.create(name), prefix)
    np.testing.assert_array_equal(first_scores, all_scores[:cut])
    # and the rows after the cut did score (the comparison is not vacuous)
    assert all_scores.size == len(whole) > cut
