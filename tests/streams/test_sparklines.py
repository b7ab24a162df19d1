"""Every alert carries recent values for its sparkline, whatever its detectors keep: a
counted metric's surge (count surge keeps no values) and a CUSUM alert (one smoothed value)
used to show an empty line or a single dot (streams.recent, streams.scoring)."""

from __future__ import annotations

import random

from ioc.events import Alert, Reading
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook

T0 = 1_795_410_000.0  # a multiple of 300
RUNTIME = DetectorRuntime.build()


def pipeline() -> Pipeline:
    return Pipeline(RUNTIME, AlertBook({}, resolve_after=2), SilenceBook({}), lateness=0.0)


def tickets(window: int, n: int) -> list[Reading]:
    """``n`` tickets in 5-minute window ``window`` of one intake channel."""
    start = T0 + 300 * window
    return [Reading(group="citizen_feedback", source="cf-HC-01", metric="tickets_opened",
                    kind="app", ts=start + 1 + k * (290 / max(n, 1)), district="Hai Chau")
            for k in range(n)]


def opened(p: Pipeline) -> list[Alert]:
    return [a for a in p.take_output().alerts
            if isinstance(a, Alert) and a.change == "opened" and a.category == "city"]


def test_a_surge_of_a_counted_metric_shows_its_recent_windows() -> None:
    p = pipeline()
    rng = random.Random(7)
    counts = [rng.choice((1, 2, 2, 3)) for _ in range(40)]
    for w, n in enumerate(counts):
        p.ingest("citizen_feedback", 0, tickets(w, n))
    assert opened(p) == []
    p.ingest("citizen_feedback", 0, tickets(40, 60))
    p.ingest("citizen_feedback", 0, tickets(41, 2))  # closes window 40
    (a,) = opened(p)
    assert a.detector == "count_surge"
    recent = a.evidence.recent
    assert len(recent) >= 20, recent
    assert recent[-1] == 60.0 and recent[:-1] == [float(n) for n in counts[-len(recent) + 1:]]
    assert a.title_parts is not None and a.title_parts["key"] == "title.count_surge"
    assert a.title.startswith("Tickets opened: 60 in 5 min at intake channel 01, Hai Chau")


def test_a_series_keeps_its_own_values_when_others_are_evicted() -> None:
    """The ring is the block's: evicting rows renumbers the ring with them (it used to be
    kept apart by block, so after an eviction a row showed another series' values, and a
    dropped block's ring was never freed)."""
    import numpy as np

    from streams.series import SeriesBlock

    block = SeriesBlock(RUNTIME.plan("flooding", "rainfall"))
    block.add_many([(s, "rainfall") for s in ("a", "b", "c")], ["Hai Chau"] * 3)
    for v in (1.1, 2.2):
        block.recent.write(np.arange(3), np.array([v, 10 * v, 100 * v]))
    block.keep([2, 0])
    assert block.keys == [("c", "rainfall"), ("a", "rainfall")]
    assert block.recent.values(0) == (110.0, 220.0) and block.recent.values(1) == (1.1, 2.2)
    block.add_many([("d", "rainfall")], ["Hai Chau"])
    assert block.recent.values(2) == ()
