"""Direction-aware alerting, shadow detectors and operator labels through the pure pipeline."""

from __future__ import annotations

import random

import pytest

from ioc import catalog
from ioc.errors import ConfigError, ValidationError
from ioc.events import Alert, Command, Reading
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook

T0 = 1_795_410_000.0


def pipeline(config: str | None = None) -> Pipeline:
    rt = DetectorRuntime.build(config_text=config)
    return Pipeline(rt, AlertBook({}, resolve_after=2), SilenceBook({}), lateness=0.0)


def feed_pm25(p: Pipeline, minutes: range, level: float, seed: int = 3) -> None:
    """Six PM2.5 readings a minute from one air station around ``level``."""
    rng = random.Random(seed)
    for m in minutes:
        pack = [Reading(group="environment", source="air-HC-01", metric="pm25",
                        value=round(level + rng.gauss(0, 1.2), 2), ts=T0 + 60 * m + s,
                        district="Hai Chau") for s in (5, 15, 25, 35, 45, 55)]
        p.ingest("environment", 0, pack)


def city_openings(alerts: list) -> list[str]:
    return [a.alert_id for a in alerts if isinstance(a, Alert) and a.category == "city"
            and a.change == "opened"]


def test_every_metric_states_its_harmful_side() -> None:
    """The catalog names the harmful side of each metric (PM2.5 high, uptime low, pH both)."""
    sides = {(g.slug, m.name): m.harmful for g in catalog.CATALOG for m in g.metrics}
    assert set(sides.values()) <= {"high", "low", "both"}
    assert sides[("environment", "pm25")] == "high"
    assert sides[("public_security", "camera_uptime")] == "low"
    assert sides[("environment", "ph")] == "both"
    assert sides[("traffic", "speed")] == "low"


def test_a_drop_in_pm25_raises_nothing_and_a_rise_does() -> None:
    """Cleaner air is no warning: a harmless-side deviation opens no city alert."""
    p = pipeline()
    feed_pm25(p, range(40), 24.0)
    feed_pm25(p, range(40, 44), 3.0)
    feed_pm25(p, range(44, 46), 24.0)
    assert city_openings(p.take_output().alerts) == []
    feed_pm25(p, range(46, 70), 24.0)
    feed_pm25(p, range(70, 74), 90.0)
    feed_pm25(p, range(74, 76), 24.0)
    assert city_openings(p.take_output().alerts)


def test_a_metric_config_may_ask_for_both_sides() -> None:
    """``direction = "both"`` brings back alerts on the harmless side."""
    p = pipeline('[groups.environment.pm25]\ndirection = "both"\n')
    feed_pm25(p, range(40), 24.0)
    feed_pm25(p, range(40, 44), 3.0)
    feed_pm25(p, range(44, 46), 24.0)
    assert city_openings(p.take_output().alerts)


def test_a_bad_direction_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="direction: expected one of high, low, both"):
        DetectorRuntime.build(config_text='[groups.environment.pm25]\ndirection = "up"\n')


def test_a_shadow_detector_records_apart_and_never_alerts() -> None:
    """A shadow detector's firing goes to the shadow records only, never to alerts."""
    p = pipeline('[groups.environment.pm25]\ndetectors = ["stuck", "silence"]\n'
                 'shadow = ["robust_z"]\n')
    plan = p.runtime.plan("environment", "pm25")
    assert [(d.name, d.shadow) for d in plan.detectors][-1] == ("robust_z", True)
    feed_pm25(p, range(40), 24.0)
    feed_pm25(p, range(40, 44), 90.0)
    feed_pm25(p, range(44, 46), 24.0)
    assert city_openings(p.take_output().alerts) == []
    shadow = p.book.take_shadow()
    assert shadow and {a.detector for a in shadow} == {"robust_z"}
    assert {a.change for a in shadow} == {"shadow"}
    assert p.book.take_shadow() == []


def test_a_shadow_detector_may_not_score_readings() -> None:
    with pytest.raises(ConfigError, match="a shadow detector scores windows only"):
        DetectorRuntime.build(config_text='[groups.environment.pm25]\nshadow = ["robust_z"]\n'
                              'readings = ["robust_z"]\n')


def test_a_label_is_kept_with_the_alert() -> None:
    """Resolving with a label keeps it on the alert; a later label on a resolved alert
    publishes a ``labelled`` version."""
    p = pipeline()
    feed_pm25(p, range(40), 24.0)
    feed_pm25(p, range(40, 42), 90.0)
    aid = city_openings(p.take_output().alerts)[0]
    cmd = Command(command_id="c1", action="resolve", user="operator:lan", ts=T0 + 3000,
                  alert_id=aid, label="false_alarm", reason="dust on the inlet")
    (rec,) = p.command(cmd, 0)
    assert (rec.status, rec.label, rec.label_note) == ("resolved", "false_alarm",
                                                      "dust on the inlet")
    again = Command(command_id="c2", action="resolve", user="operator:lan", ts=T0 + 3010,
                    alert_id=aid, label="sensor_fault")
    (rec2,) = p.command(again, 0)
    assert (rec2.change, rec2.label, rec2.version) == ("labelled", "sensor_fault",
                                                      rec.version + 1)


def test_a_label_goes_with_ack_or_resolve_only() -> None:
    with pytest.raises(ValidationError, match="a label goes with `ack` or `resolve`"):
        Command(command_id="c1", action="note", user="operator", ts=0.0, text="x",
                alert_id="robust_z:flooding:rain-HC-01:rainfall", label="real")
