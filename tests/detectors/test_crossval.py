"""Cross-validation over categories (detectors/crossval.py) and `evaluate --threshold/--folds`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from detectors import nab
from detectors.crossval import category_folds, cross_validate
from detectors.evaluation import evaluate, load_corpus
from ioc.cli import cli

CATEGORIES = {"alpha": 2, "beta": 1, "gamma": 1, "quiet": 0}  # category -> files with a spike


def make_corpus(root: Path) -> Path:
    """Four categories in NAB's layout; each labelled file has one spike inside its window."""
    labels: dict[str, list[list[str]]] = {}
    for cat, spiked in CATEGORIES.items():
        (root / "data" / cat).mkdir(parents=True)
        for i in range(max(spiked, 1)):
            name = f"{cat}/f{i}.csv"
            rows = [f"2020-01-0{1 + m // 1440} {m // 60 % 24:02d}:{m % 60:02d}:00,"
                    f"{90.0 if spiked and m == 1500 else 10.0 + (m % 3)}" for m in range(2000)]
            (root / "data" / name).write_text("timestamp,value\n" + "\n".join(rows) + "\n")
            labels[name] = ([["2020-01-02 00:50:00.000000", "2020-01-02 01:10:00.000000"]]
                            if spiked else [])
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return root


def test_folds_balance_windows_and_every_fold_has_some(tmp_path: Path) -> None:
    corpus = load_corpus(make_corpus(tmp_path))
    folds = category_folds(corpus, 2)
    assert sorted(c for f in folds for c in f) == sorted(CATEGORIES)
    assert ("alpha",) in folds or ("alpha", "quiet") in folds  # 2 windows against 1 + 1
    with pytest.raises(ValueError, match=r"\[2, 3\]"):
        category_folds(corpus, 4)  # only three categories have windows


def test_the_choice_is_made_without_the_held_out_fold(tmp_path: Path) -> None:
    """Two candidates differ only on 'alpha': the folds that train on alpha choose the one
    that catches its spikes, the fold that holds alpha out cannot tell them apart (the tie
    goes to the first) and pays for it on alpha."""
    corpus = load_corpus(make_corpus(tmp_path))
    spike = {n: (np.arange(2000) == 1500) * 0.95 for n in corpus.names}
    noisy_on_alpha = {n: (s if not n.startswith("alpha") else np.full(2000, 0.95))
                      for n, s in spike.items()}
    cv = cross_validate(corpus, {"noisy": noisy_on_alpha, "spike": spike}, k=3, threshold=0.9)
    by_fold = {f.held_out: f for f in cv.folds}
    alpha = next(f for h, f in by_fold.items() if "alpha" in h)
    assert alpha.chosen == "noisy" and alpha.train > 90.0  # perfect on beta and gamma
    assert alpha.held_out_score < 0  # and it alarms all the time on alpha
    assert all(f.chosen == "spike" and f.held_out_score > 90.0
               for h, f in by_fold.items() if "alpha" not in h)
    assert cv.mean == pytest.approx(sum(f.held_out_score for f in cv.folds) / 3)


def test_a_fixed_threshold_is_used_as_given(tmp_path: Path) -> None:
    corpus = load_corpus(make_corpus(tmp_path))
    scores = {n: (np.arange(2000) == 1500) * 0.8 for n in corpus.names}
    best = evaluate(corpus, scores)
    fixed = evaluate(corpus, scores, thresholds=dict.fromkeys(corpus.profiles, 0.9))
    assert best.profiles["standard"].normalised > 90.0
    assert fixed.profiles["standard"].threshold == 0.9
    assert fixed.profiles["standard"].normalised == pytest.approx(0.0)  # nothing reaches 0.9
    assert nab.NO_DETECTION > 1.0


def test_cli_threshold_and_folds_print_each_fold_and_the_mean(tmp_path: Path) -> None:
    root = make_corpus(tmp_path)
    result = CliRunner().invoke(cli, [
        "detectors", "evaluate", "--dataset", str(root), "--detector", "robust_z",
        "--threshold", "0.9", "--folds", "3", "--grid", "threshold=4,6", "--json"])
    assert result.exit_code == 0, result.output
    assert "(threshold fixed)" in result.output
    assert result.output.count("held out") == 3 and "mean held-out score" in result.output
    doc = json.loads(result.output.strip().splitlines()[-1])
    cv = doc["cross_validation"]
    assert cv["fixed_threshold"] == 0.9 and len(cv["folds"]) == 3
    assert {f["chosen"] for f in cv["folds"]} <= {"threshold=4", "threshold=6"}
    assert doc["scores"]["standard"] > 90.0


def test_cli_rejects_a_bad_grid_in_one_line(tmp_path: Path) -> None:
    root = make_corpus(tmp_path)
    result = CliRunner().invoke(cli, [
        "detectors", "evaluate", "--dataset", str(root), "--detector", "robust_z",
        "--folds", "2", "--grid", "threshold=-1"])
    assert result.exit_code != 0
    assert "--grid threshold=-1: robust_z: threshold must be > 0" in str(result.exception)
