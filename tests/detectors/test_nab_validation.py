"""Our NAB scorer reproduces NAB's published scores for its 'numenta' detector."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from detectors.evaluation import Corpus, evaluate, load_corpus, load_results

REPO = Path(__file__).resolve().parents[2]


def nab_dir() -> Path:
    env = os.environ.get("IOC_NAB_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "nab"


NAB = nab_dir()
needs_nab = pytest.mark.skipif(
    not (NAB / "labels" / "combined_windows.json").is_file(),
    reason=f"NAB corpus not found at {NAB} (set IOC_NAB_DIR)",
)
needs_results = pytest.mark.skipif(
    not (NAB / "results" / "numenta").is_dir(),
    reason=f"NAB's published numenta results not found under {NAB / 'results'}",
)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(NAB)


@needs_nab
@needs_results
def test_published_numenta_results_reproduce_final_scores(corpus: Corpus) -> None:
    """At NAB's published thresholds, every profile matches final_results.json within 0.05."""
    thresholds = json.loads((NAB / "config" / "thresholds.json").read_text())["numenta"]
    final = json.loads((NAB / "results" / "final_results.json").read_text())["numenta"]
    results = load_results(NAB / "results", "numenta", corpus)
    report = evaluate(
        corpus, results, thresholds={p: v["threshold"] for p, v in thresholds.items()}
    )
    assert set(report.profiles) == set(final)
    for profile, expected in final.items():
        got = report.profiles[profile]
        assert got.normalised == pytest.approx(expected, abs=0.05), profile
        # the raw corpus total matches NAB's too
        assert got.raw == pytest.approx(thresholds[profile]["score"], abs=1e-6), profile
    assert report.profiles["standard"].null == pytest.approx(-116.0)
    assert report.profiles["standard"].perfect == pytest.approx(116.0)


@needs_nab
@needs_results
def test_optimised_thresholds_never_score_below_published(corpus: Corpus) -> None:
    """Our global threshold sweep finds at least NAB's hill-climbed optimum."""
    final = json.loads((NAB / "results" / "final_results.json").read_text())["numenta"]
    report = evaluate(corpus, load_results(NAB / "results", "numenta", corpus))
    for profile, expected in final.items():
        assert report.profiles[profile].normalised >= expected - 1e-6
