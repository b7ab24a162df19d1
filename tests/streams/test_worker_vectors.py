"""The worker's multivariate models through the pipeline (no broker): vectors from window
summaries, alerts through the alert book, checkpoints, restores, revokes, indicators."""

from __future__ import annotations

import math
from functools import cache

import pytest

from detectors.multivariate import indicator_vector
from ioc import i18n
from ioc.errors import ConfigError
from ioc.events import Alert, GroupIndicator
from ioc.tools.anomalies import AnomalyPlan
from ioc.tools.mix import place_mix
from ioc.tools.simulator import CitySimulator
from streams.lifecycle import AlertBook
from streams.multivariate import MultivariateBook, MultivariateConfig
from streams.pipeline import Pipeline
from streams.publish import default_partition
from streams.recent import KEEP
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook

MIDNIGHT = 1_795_366_800.0
CONFIG = "[params.isolation_forest]\nmin_samples = 48\nrefit_every = 100000\n"
MIX = place_mix("environment", "air-HC-01", "pm25", MIDNIGHT + 60 * 60)


@cache
def runtime() -> DetectorRuntime:
    return DetectorRuntime.build()


def pipeline(mode: str = "sources", rt: DetectorRuntime | None = None) -> Pipeline:
    return Pipeline(rt or runtime(), AlertBook({}), SilenceBook({}), lateness=0.0,
                    multivariate=MultivariateConfig.build(mode, config_text=CONFIG))


def feed(p: Pipeline, since: float, until: float) -> list[Alert]:
    sim = CitySimulator(seed=4, start=MIDNIGHT, duration=80 * 60, anomalies=AnomalyPlan([MIX]),
                        groups=["environment"], pack_size=10)
    out: list[Alert] = []
    for t, msgs in sim.messages():
        if not since <= t < until:
            continue
        for m in msgs:
            p.ingest("environment", default_partition(m.key, 4), m.readings, now=t + 1e6)
        out += [a for a in p.take_output().alerts if isinstance(a, Alert)]
    return out


def forest(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.detector == "isolation_forest" and a.change == "opened"]


@pytest.fixture(scope="module")
def trained() -> tuple[Pipeline, list[tuple[str, int, bytes | None]]]:
    """A pipeline that has read the first 55 minutes (models fitted at 48), and its
    checkpoint."""
    p = pipeline()
    assert not forest(feed(p, MIDNIGHT, MIDNIGHT + 55 * 60))
    return p, p.checkpoint()


def test_a_mix_raises_one_isolation_forest_alert_naming_the_metrics() -> None:
    p = pipeline()
    alerts = forest(feed(p, MIDNIGHT, MIDNIGHT + 75 * 60))
    assert [(a.source, a.metric) for a in alerts] == [("air-HC-01", "combined")]
    a = alerts[0]
    assert MIX.start <= a.first_seen <= MIX.start + 180
    assert a.alert_id == "isolation_forest:environment:air-HC-01:combined"
    top = a.evidence.detail["top_metrics"].split(",")
    assert top[0] in ("pm25", "pm10", "aqi") and a.evidence.score >= 0.9
    usual, now = a.evidence.detail["usual.pm25"], a.evidence.detail["value.pm25"]
    assert 8.0 < usual < now < 45.0  # higher than usual, inside its normal range
    # in operators' words: the metric that made it fire, its value and usual value
    cause = a.evidence.detail["cause"]
    assert cause in top and a.evidence.side == "high"
    assert (a.evidence.value, a.evidence.baseline) == pytest.approx(
        (a.evidence.detail[f"value.{cause}"], a.evidence.detail[f"usual.{cause}"]))
    assert a.evidence.raw == a.evidence.detail["isolation"]  # the score: for engineers
    assert a.title_parts is not None and a.title_parts["key"].startswith("title.mix_high")
    name = i18n.messages("en")[f"metric.{cause}"]
    assert a.title.startswith(f"Unusual mix at air station 01, Hai Chau: {name} high at ")
    assert "(usually " in a.title and "Combined" not in a.title
    vi = i18n.render("vi", a.title_parts["key"], a.title_parts["params"])
    assert vi.startswith("Tổ hợp bất thường tại trạm không khí 01, Hải Châu: ")
    mv = p.multivariate
    assert mv is not None and mv.fit_count == 21 and mv.vectors > 21 * 70


def test_a_mix_alert_shows_the_recent_windows_of_the_metric_that_made_it_fire() -> None:
    """The sparkline: the cause's window means (in its units, rhythm put back), the last one
    the value shown, as many as a series' ring keeps."""
    p = pipeline()
    sim = CitySimulator(seed=4, start=MIDNIGHT, duration=80 * 60, anomalies=AnomalyPlan([MIX]),
                        groups=["environment"], pack_size=10)
    means: dict[str, dict[float, float]] = {}
    alerts: list[Alert] = []
    for t, msgs in sim.messages():
        if t >= MIDNIGHT + 75 * 60:
            break
        for m in msgs:
            p.ingest("environment", default_partition(m.key, 4), m.readings, now=t + 1e6)
        out = p.take_output()
        for s in out.summaries.get("environment", []):
            if s.source == "air-HC-01" and s.count:
                means.setdefault(s.metric, {})[s.start] = s.mean
        alerts += forest([a for a in out.alerts if isinstance(a, Alert)])
    assert len(alerts) == 1
    ev = alerts[0].evidence
    cause = ev.detail["cause"]
    windows = sorted(w for w in means[cause] if w <= ev.window_start)[-KEEP:]
    assert len(ev.recent) == KEEP and ev.recent[-1] == pytest.approx(ev.value)
    assert ev.recent == pytest.approx([means[cause][w] for w in windows])


def test_a_mix_whose_top_metrics_moved_on_their_harmless_sides_raises_nothing() -> None:
    """The same mix (PM2.5 up, PM10 and AQI down) with PM2.5 configured to harm when low
    (``direction`` of the metric's config, as for per-metric detectors): every metric that
    explains it moved on its harmless side, so no alert; ``both`` brings it back."""
    low = DetectorRuntime.build(config_text="[groups.environment.pm25]\ndirection = 'low'\n")
    p = pipeline(rt=low)
    assert not forest(feed(p, MIDNIGHT, MIDNIGHT + 75 * 60))
    mv = p.multivariate
    assert mv is not None and mv.fit_count == 21
    subj = mv.subjects.get(("environment", "air-HC-01", "combined"))
    assert subj is not None and subj.vm.harmful["pm25"] == "low"
    both = DetectorRuntime.build(config_text="[groups.environment.'*']\ndirection = 'both'\n")
    alerts = forest(feed(pipeline(rt=both), MIDNIGHT, MIDNIGHT + 75 * 60))
    assert [a.source for a in alerts] == ["air-HC-01"]


def test_checkpoints_restore_the_same_model_version_and_scores(trained: tuple) -> None:
    p, states = trained
    keys = [k for k, _, _ in states]
    assert sum(k.endswith("~combined.model") for k in keys) == 21
    assert sum(k.endswith("~combined") for k in keys) == 21
    twin = pipeline()
    for _key, part, blob in states:
        assert blob is not None
        if MultivariateBook.owns(blob):
            assert twin.restore(blob, {part}) == ("environment", part)
    mv, tv = p.multivariate, twin.multivariate
    assert mv is not None and tv is not None and tv.fit_count == 0
    for key, subj in mv.subjects.by_key.items():
        restored = tv.subjects.by_key[key].vm
        assert restored.model is not None and subj.vm.model is not None
        assert restored.model.version == subj.vm.model.version == 1
        assert restored.model.to_bytes() == subj.vm.model.to_bytes()
        assert restored.last_end == subj.vm.last_end
        x = [30.0, 31.0, 28.0, 55.0, 62.0] if key[1].startswith("air") else [7.3, 6.5, 18, 35]
        assert restored.step(x, end=math.inf).score == subj.vm.step(x, end=math.inf).score


def test_revoke_forgets_subjects_and_a_snapshot_brings_them_back(trained: tuple) -> None:
    p, _ = trained
    q = pipeline()
    for _key, _part, blob in p.snapshot({0, 1, 2, 3}):
        q.restore(blob, {0, 1, 2, 3})
    mv = q.multivariate
    assert mv is not None and len(mv.subjects) == 21
    q.revoke({0})
    assert all(s.partition != 0 for s in mv.subjects)
    back = [blob for _k, _part, blob in p.snapshot({0}) if MultivariateBook.owns(blob)]
    assert back and all(q.restore(b, {0}) for b in back)
    assert sum(s.partition == 0 for s in mv.subjects) == len(back) // 2


def test_a_state_or_model_that_does_not_check_is_skipped(trained: tuple) -> None:
    _p, states = trained
    q = pipeline()
    model = next(b for k, _, b in states if k.endswith(".model"))
    assert model is not None
    assert q.restore(model[:-40], None) is None
    assert q.restore(model, {99}) is None  # not a partition this worker owns


def test_group_indicators_in_a_district_have_a_model_too() -> None:
    p = pipeline("indicators")
    mv = p.multivariate
    assert mv is not None

    def ind(k: int, aqi: float, reporting: int) -> GroupIndicator:
        return GroupIndicator(group="environment", district="Hai Chau", start=60.0 * k,
                              end=60.0 * (k + 1), sources_reporting=reporting,
                              sources_expected=3, sources_in_breach=0,
                              open_alerts={"warning": 0},
                              kpis={"aqi_max": aqi, "stations_in_breach": 0.0,
                                    "water_in_breach": 0.0})

    for k in range(60):
        p.indicator(ind(k, 60.0 + (k % 5), 3))
    assert mv.fit_count == 1 and not p.take_output().alerts
    clean = ind(60, 30.0, 3)  # cleaner air than usual at every station: unusual, no alert
    vm = mv.subjects.by_key[("environment", "Hai Chau", "indicators")].vm
    x = indicator_vector("environment", clean.kpis, 3, 3, clean.open_alerts)
    assert vm.model is not None and vm.model.score(x)[0] >= 0.9
    p.indicator(clean)
    assert not p.take_output().alerts
    p.indicator(ind(61, 95.0, 1))  # AQI high while most stations stopped reporting
    alerts = [a for a in p.take_output().alerts if isinstance(a, Alert)]
    assert [(a.source, a.metric, a.detector) for a in alerts] == [
        ("Hai Chau", "indicators", "isolation_forest")]
    a = alerts[0]
    assert a.evidence.detail["cause"] in ("aqi_max", "reporting_share")
    assert a.title_parts is not None and a.title_parts["key"].startswith("title.indicators_")
    if a.evidence.detail["cause"] == "aqi_max":
        assert a.title.startswith("Unusual indicators in Hai Chau, Air & water quality "
                                  "monitoring: Highest AQI high at 95 (usually ")
    vi = i18n.render("vi", a.title_parts["key"], a.title_parts["params"])
    assert vi.startswith("Chỉ số bất thường tại Hải Châu, ") and "{" not in vi
    assert len(a.evidence.recent) == KEEP and a.evidence.recent[-1] == a.evidence.value


def test_off_runs_no_models_and_bad_params_fail_at_start() -> None:
    assert pipeline("off").multivariate is None
    with pytest.raises(ConfigError, match=r"params\.isolation_forest"):
        MultivariateConfig.build("all", config_text="[params.isolation_forest]\nthreshold = 2")
    with pytest.raises(ConfigError, match="IOC_MULTIVARIATE"):
        MultivariateConfig.build("everything")


def test_the_detector_config_tunes_the_forest_but_keeps_it_out_of_metric_lists() -> None:
    DetectorRuntime.build(config_text="[params.isolation_forest]\nmin_samples = 24\n")
    with pytest.raises(ConfigError, match="IOC_MULTIVARIATE"):
        DetectorRuntime.build(config_text="[groups.traffic.speed]\nadd = ['isolation_forest']\n")
