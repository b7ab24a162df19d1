"""Property: random timestamps in any order on one partition (any values the contract
accepts, 2000-2100) never stop the windows of other partitions from closing on time, nor
push the worker's clock."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.events import MAX_TS, MIN_TS, Reading
from streams.lifecycle import AlertBook
from streams.pipeline import Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook
from streams.windows import PartitionWindows

RUNTIME = DetectorRuntime.build()
T0 = 1_795_410_000.0  # the live wall clock of the scenario
GOOD = [("flood-HC-01", 1), ("flood-TK-01", 2), ("flood-ST-01", 3)]  # (source, partition)
BAD_PARTITION = 0

timestamps = st.lists(st.floats(min_value=MIN_TS, max_value=MAX_TS, allow_nan=False),
                      min_size=1, max_size=40)


def tower(source: str, ts: float) -> Reading:
    return Reading(group="flooding", source=source, metric="flood_depth", value=4.0, ts=ts,
                   district="Hai Chau")


@settings(max_examples=60, deadline=None)
@given(bad=st.lists(timestamps, min_size=1, max_size=8), where=st.integers(0, 9))
def test_random_times_on_one_partition_never_stop_the_others(bad: list[list[float]],
                                                             where: int) -> None:
    p = Pipeline(RUNTIME, AlertBook({}), SilenceBook({}), lateness=0.0)
    p.schedule.idle_s = 0.0
    minutes = 10
    for m in range(minutes):
        now = T0 + 60 * m + 6
        for src, part in GOOD:
            p.ingest("flooding", part, [tower(src, T0 + 60 * m + 5)], now=now)
        if m == where % minutes or m == minutes - 1:
            for pack in bad:  # a pack of random times from a source of its own partition
                p.ingest("flooding", BAD_PARTITION, [tower("rain-HC-01", t) for t in pack],
                         now=now)
        # the timer, a wall-clock second later
        p.idle(lambda g, part: True, now=p.state("flooding", 1).last_event_wall + 1.0,
               wall=now + 1.0)
    summaries = p.take_output().summaries["flooding"]
    for src, part in GOOD:
        # every window up to the last minute closed on time, with its reading in it
        got = [(s.start, s.count) for s in summaries if s.source == src]
        assert got == [(T0 + 60 * m, 1) for m in range(minutes - 1)], (src, got[-3:])
        assert p.state("flooding", part).windows.clock <= T0 + 60 * minutes
    # no clock anywhere ahead of the wall, and the worker's clock is a good partition's
    assert all(s.windows.clock <= T0 + 60 * minutes for s in p.parts.values())
    assert T0 + 60 * (minutes - 1) <= p.clock() <= T0 + 60 * minutes


@settings(max_examples=100, deadline=None)
@given(times=timestamps, cap=st.floats(min_value=MIN_TS, max_value=MAX_TS))
def test_a_partition_clock_never_passes_the_wall_nor_goes_back(times: list[float],
                                                               cap: float) -> None:
    pw = PartitionWindows("flooding", 0, width=60.0, lateness=30.0, max_jump=86400.0)
    before = pw.clock
    for i, t in enumerate(times):
        accepted, _late, _dropped = pw.add([tower("rain-HC-01", t)], cap=cap + i)
        assert pw.clock >= before and pw.clock <= max(cap + i, before)
        assert accepted + len(pw.take_refused()) == 1  # accepted, or handed back
        before = pw.clock
        pw.due()
    assert not math.isnan(pw.clock)
