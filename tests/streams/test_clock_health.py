"""The worker's degraded rules (streams.health): readings refused for their time at a
meaningful rate, or readings arriving while no window closes."""

from __future__ import annotations

from ioc.events import Reading
from streams.health import HealthWatch
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook

T0 = 1_795_410_000.0


def tower(minute: int, second: int = 5) -> list[Reading]:
    return [Reading(group="flooding", source="flood-HC-01", metric="flood_depth", value=4.0,
                    ts=T0 + 60 * minute + second, district="Hai Chau")]


def test_a_few_refused_readings_are_not_degraded_many_are_and_it_clears() -> None:
    h = HealthWatch(refused_ratio=0.05, span_s=60.0, min_refused=20)
    h.sample(0.0)
    h.seen, h.time_refused = 1_000, 1  # the one bad reading of the attack
    h.sample(30.0)
    assert h.reasons([], 30.0) == []
    h.seen, h.time_refused = 1_500, 400
    h.sample(40.0)
    (reason,) = h.reasons([], 40.0)
    assert reason.startswith("refused: 400 of 1500 readings in the last 40 s")
    for t in range(41, 110):  # a minute of clean input later
        h.seen += 100
        h.sample(float(t))
    assert h.reasons([], 109.0) == []


def test_readings_flowing_while_no_window_closes_is_degraded() -> None:
    p = Pipeline(DetectorRuntime.build(), AlertBook({}), SilenceBook({}), lateness=30.0)
    p.ingest("flooding", 0, tower(0), now=T0 + 6)
    st = p.state("flooding", 0)
    h = HealthWatch()
    # input flows, the first window has not closed yet: fine for three widths and the lateness
    assert h.reasons([st], st.last_close_wall + 200.0) == []
    st.last_event_wall = st.last_close_wall + 300.0
    (reason,) = h.reasons([st], st.last_close_wall + 301.0)
    assert reason.startswith("stalled: flooding[0] takes in readings but closed no window")
    # a window closes: ok again
    p.ingest("flooding", 0, tower(2), now=T0 + 200)
    assert h.reasons([st], st.last_close_wall + 1.0) == []
    # no input for a while (a quiet partition) is not a stall
    assert h.reasons([st], st.last_event_wall + 3600.0) == []
