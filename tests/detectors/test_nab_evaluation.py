"""Corpus loading, results files and `ioc detectors evaluate` (detectors/evaluation.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from detectors.evaluation import (
    evaluate,
    load_corpus,
    load_results,
    read_series,
    run_corpus,
    write_results,
)
from detectors.statistical import RobustZScore
from ioc.cli import cli

NAB = (
    Path(os.environ["IOC_NAB_DIR"])
    if os.environ.get("IOC_NAB_DIR")
    else Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"
)
needs_nab = pytest.mark.skipif(not (NAB / "labels").is_dir(), reason=f"NAB not found at {NAB}")
TWO = ["realTraffic/speed_7578.csv", "realAdExchange/exchange-3_cpc_results.csv"]


def make_corpus(root: Path, windows: dict[str, list[list[str]]] | None = None) -> Path:
    """A two-file corpus in NAB's layout: a flat series with one spike in 'toy/a.csv'."""
    (root / "data" / "toy").mkdir(parents=True)
    (root / "labels").mkdir()
    for name, spike in (("a.csv", 300), ("b.csv", None)):
        rows = [
            f"2020-01-01 {h:02d}:{m:02d}:00,{90.0 if h * 60 + m == spike else 10.0 + (m % 3)}"
            for h in range(8)
            for m in range(60)
        ]
        (root / "data" / "toy" / name).write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    labels = windows or {
        "toy/a.csv": [["2020-01-01 04:50:00.000000", "2020-01-01 05:10:00.000000"]],
        "toy/b.csv": [],
    }
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return root


def test_corpus_loads_windows_as_rows_and_default_profiles(tmp_path: Path) -> None:
    corpus = load_corpus(make_corpus(tmp_path))
    assert corpus.names == ["toy/a.csv", "toy/b.csv"]
    assert corpus.labelled["toy/a.csv"].windows == ((290, 310),)
    assert corpus.windows == 1 and corpus.rows == 960
    assert set(corpus.profiles) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}


def test_a_spike_detector_scores_high_and_the_null_detector_zero(tmp_path: Path) -> None:
    corpus = load_corpus(make_corpus(tmp_path))
    report = evaluate(corpus, run_corpus(RobustZScore, corpus), detector="robust_z")
    assert report.profiles["standard"].normalised > 90.0
    flat = {n: np.zeros(len(s)) for n, s in corpus.series.items()}
    assert evaluate(corpus, flat).summary() == pytest.approx(
        {"standard": 0.0, "reward_low_FP_rate": 0.0, "reward_low_FN_rate": 0.0}
    )


def test_results_round_trip_in_nab_layout(tmp_path: Path) -> None:
    corpus = load_corpus(make_corpus(tmp_path / "c"))
    scores = {n: np.linspace(0.0, 1.0, len(s)) for n, s in corpus.series.items()}
    paths = write_results(tmp_path / "out", "mine", corpus, scores)
    assert paths[0] == tmp_path / "out" / "mine" / "toy" / "mine_a.csv"
    assert paths[0].read_text().splitlines()[0] == "timestamp,value,anomaly_score"
    back = load_results(tmp_path / "out", "mine", corpus)
    for n in corpus.names:
        np.testing.assert_array_equal(back[n], scores[n])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"toy/a.csv": [["2021-01-01 00:00:00", "2021-01-02 00:00:00"]]}, "holds no rows"),
        ({"toy/missing.csv": []}, "missing"),
        ({"toy/a.csv": "soon"}, "must be"),
    ],
)
def test_bad_labels_are_named(tmp_path: Path, labels: dict, message: str) -> None:
    root = make_corpus(tmp_path, windows=labels)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_corpus(root)


def test_bad_data_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("timestamp,value\n2020-01-01 00:00:00,abc\n")
    with pytest.raises(ValueError, match=r"x\.csv: bad value"):
        read_series(path)
    path.write_text("time,value\n")
    with pytest.raises(ValueError, match="missing column"):
        read_series(path)


def test_cli_rejects_a_directory_without_nab_layout(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["detectors", "evaluate", "--dataset", str(tmp_path), "--detector", "adaptive"]
    )
    assert res.exit_code != 0
    assert "no data directory" in str(res.exception) or "no data directory" in res.output


@needs_nab
def test_cli_evaluates_two_nab_files_with_json_results_and_plot(tmp_path: Path) -> None:
    args = [
        "detectors",
        "evaluate",
        "--dataset",
        str(NAB),
        "--detector",
        "adaptive",
        "--json",
        "--results-dir",
        str(tmp_path / "res"),
    ]
    for f in TWO:
        args += ["--file", f]
    try:
        import matplotlib  # noqa: F401

        args += ["--plot", str(tmp_path / "p.png")]
    except ImportError:
        pass
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    last = json.loads(res.output.strip().splitlines()[-1])
    assert set(last) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert all(-100.0 <= v <= 100.0 for v in last.values())
    written = sorted(p.relative_to(tmp_path / "res") for p in (tmp_path / "res").rglob("*.csv"))
    assert [str(p) for p in written] == [
        "adaptive/realAdExchange/adaptive_exchange-3_cpc_results.csv",
        "adaptive/realTraffic/adaptive_speed_7578.csv",
    ]
    if "--plot" in args:
        assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
