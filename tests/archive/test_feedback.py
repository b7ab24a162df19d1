"""Detector feedback in the archive: labels and shadow windows written idempotently, the
feedback and shadow reports read back, ``ioc detectors feedback``/``shadow-report`` and
``ioc detectors backtest --labels`` on a SQLite archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.feedback import (
    FeedbackBatch,
    feedback_report,
    labels,
    shadow_comparison,
    shadow_windows,
    write_feedback,
)
from archive.records import Batch
from archive.store import Store
from ioc.cli import cli
from ioc.events import Alert, Evidence, encode

T0 = 1_796_353_200.0  # 2026-12-04 10:00 in Da Nang
SRC = "flood-HC-01"


def alert(detector: str, *, first: float, last: float, version: int = 1,
          label: str | None = None, change: str = "opened", end: float | None = None) -> Alert:
    ev = Evidence(window_start=(end or last) - 60, window_end=end or last, value=30.0,
                  baseline=4.0, threshold=None, score=0.97, raw=6.0, detector=detector,
                  detector_version="1", params={}, recent=[], side="high")
    return Alert(alert_id=f"{detector}:flooding:{SRC}:flood_depth", version=version,
                 status="resolved" if label else "firing", severity="warning",
                 category="city", group="flooding", district="Hai Chau", source=SRC,
                 metric="flood_depth", detector=detector, title="t", first_seen=first,
                 last_seen=last, count=1, updated_at=last + 10, change=change, evidence=ev,
                 label=label, user="operator:lan" if label else None)  # type: ignore[arg-type]


@pytest.fixture
def url(tmp_path: Path) -> str:
    u = f"sqlite:///{tmp_path / 'archive.db'}"
    s = Store(u)
    s.migrate()
    s.close()
    return u


def test_labels_and_shadow_windows_are_written_once(url: str) -> None:
    store = Store(url)
    try:
        first = alert("robust_z", first=T0, last=T0 + 300, version=4, label="real")
        later = alert("robust_z", first=T0, last=T0 + 300, version=5, label="false_alarm")
        shadow = [alert("ewma", first=T0 - 120 + 60 * i, last=T0 - 60 + 60 * i,
                        change="shadow", end=T0 - 60 + 60 * i) for i in range(3)]
        write_feedback(store, [first], shadow)
        write_feedback(store, [later, first], shadow)   # a replay, and a newer label
        (row,) = labels(store)
        assert (row["label"], row["version"]) == ("false_alarm", 5)
        assert len(shadow_windows(store)) == 3
        report = feedback_report(store, by="all")
        assert report["labelled"] == 1 and report["rows"][0]["precision"] == 0.0
    finally:
        store.close()


def test_a_feedback_batch_keeps_labelled_alerts_and_shadow_records() -> None:
    fb, batch = FeedbackBatch(), Batch()
    fb.alert_record(encode(alert("robust_z", first=T0, last=T0, label="real")))
    fb.alert_record(encode(alert("robust_z", first=T0, last=T0)))   # no label: not kept
    fb.shadow_record(batch, "ioc.shadow", 0, 7, encode(alert("ewma", first=T0, last=T0,
                                                             change="shadow")))
    fb.shadow_record(batch, "ioc.shadow", 0, 8, b"not json")
    assert [a.label for a in fb.labelled] == ["real"] and len(fb.shadow) == 1
    assert batch.offsets[("ioc.shadow", 0)] == 9 and len(batch.rejects) == 1


def test_the_cli_reports_feedback_and_a_shadow_detector(url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(url)
    live = alert("robust_z", first=T0, last=T0 + 300, version=3, label="real")
    try:
        write_feedback(store, [live], [alert("ewma", first=T0 - 60, last=T0, change="shadow",
                                             end=T0)])
        with store._begin() as conn:   # the live episode, as the archive keeps alert versions
            from archive.schema import alert_versions

            conn.execute(alert_versions.insert().values(
                alert_id=live.alert_id, version=1, status="firing", severity="warning",
                category="city", group_slug="flooding", district="Hai Chau", source=SRC,
                metric="flood_depth", detector="robust_z", title="t", change="opened",
                first_seen=T0, last_seen=T0 + 300, updated_at=T0, record=encode(live).decode()))
        direct = shadow_comparison(store, "ewma", since=T0 - 3600, until=T0 + 3600)
    finally:
        store.close()
    assert direct["shadow"]["overlap"] == 1.0 and direct["lead_s"] == 60.0
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    run = CliRunner().invoke(cli, ["detectors", "feedback", "--since", "2026-12-01", "--json"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.output.strip().splitlines()[-1])
    assert [(r["detector"], r["real"], r["precision"]) for r in doc["rows"]] == [
        ("robust_z", 1, 1.0)]
    run = CliRunner().invoke(cli, ["detectors", "shadow-report", "--detector", "ewma",
                                   "--since", "2026-12-04", "--until", "2026-12-05"])
    assert run.exit_code == 0, run.output
    assert "shadow  episodes     1" in run.output and "60 s" in run.output
    run = CliRunner().invoke(cli, ["detectors", "shadow-report", "--detector", "ewma",
                                   "--since", "2026-12-05", "--until", "2026-12-04"])
    assert run.exit_code != 0 and "--until must come after --since" in str(run.exception)


def test_backtest_scores_a_detector_against_the_labels(url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Three spikes: one labelled real (found: recall 1), one labelled a false alarm (a
    false alert) and one nobody labelled (left out of the precision, neither right nor
    wrong): the labels stand in for --truth."""
    spikes = {60: "false_alarm", 80: None, 100: "real"}
    rows = [{"group": "flooding", "source": SRC, "metric": "flood_depth", "district": "Hai Chau",
             "ts": T0 - 7200 + 60 * i + 5, "value": 40.0 if i in spikes else 4.0 + (i % 3) * 0.1}
            for i in range(120)]
    recording = tmp_path / "readings.jsonl"
    recording.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ends = {i: T0 - 7200 + 60 * (i + 1) for i in spikes}
    store = Store(url)
    try:
        write_feedback(store, [alert("robust_z", first=ends[i], last=ends[i], version=2,
                                     label=label) for i, label in spikes.items() if label], [])
    finally:
        store.close()
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    run = CliRunner().invoke(cli, ["detectors", "backtest", "--readings", str(recording),
                                   "--labels", "--detector", "robust_z", "--json"])
    assert run.exit_code == 0, run.output
    got = json.loads(run.output.strip().splitlines()[-1])["robust_z"]
    assert (got["anomalies"], got["recall"]) == (1, 1.0)
    assert (got["alerts"], got["true_alerts"], got["unjudged"]) == (3, 1, 1), got
    assert got["precision"] == 0.5
    assert "unlabelled: robust_z 1" in run.output
