"""Windows of many partitions that settle together close together (one detector call per
plan), and give exactly what closing each partition on its own gives."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

import streams.closing
import streams.plan_columns
from ioc.events import Reading
from streams.lifecycle import AlertBook
from streams.pipeline import Output, Pipeline
from streams.runtime import DetectorRuntime
from streams.silences import SilenceBook

T0 = 1_795_410_000.0
RUNTIME = DetectorRuntime.build()
PARTITIONS = range(4)
SPIKE = (25, 2, "flood-P2-01")  # minute, partition, source


def pipeline(**options: Any) -> Pipeline:
    return Pipeline(RUNTIME, AlertBook({}, resolve_after=2), SilenceBook({}), lateness=0.0,
                    **options)


def messages(minutes: range, partitions: range = PARTITIONS, seed: int = 3
             ) -> Iterator[tuple[int, list[Reading]]]:
    """Six packs a minute per partition, three towers each; partition 3 joins at minute 10
    (its series take their slots after the others'), partition 1 lags two seconds."""
    rng = random.Random(seed)
    for m in minutes:
        for s in (5, 15, 25, 35, 45, 55):
            for part in partitions:
                if part == 3 and m < 10:
                    continue
                pack = []
                for i in range(3):
                    src = f"flood-P{part}-{i:02d}"
                    v = 40.0 if (m, part, src) == SPIKE else round(4 + rng.gauss(0, 0.3), 2)
                    pack.append(Reading(group="flooding", source=src, metric="flood_depth",
                                        value=v, ts=T0 + 60 * m + s + (part == 1) * 2,
                                        district="Hai Chau"))
                yield part, pack


def same(a: Output, b: Output) -> None:
    def enc(xs: Any) -> list[bytes]:
        return sorted(map(msgspec.json.encode, xs))
    assert enc(a.summaries["flooding"]) == enc(b.summaries["flooding"])
    assert enc(a.alerts) == enc(b.alerts)
    assert enc(a.parts) == enc(b.parts)


def joint_run(p: Pipeline, minutes: range, batch: int, partitions: range = PARTITIONS
              ) -> list[int]:
    """What the agent runs: fold and settle each message, flush once per batch."""
    steps: list[int] = []
    for n, (part, pack) in enumerate(messages(minutes, partitions), 1):
        p.fold("flooding", part, pack)
        p.settle("flooding", part)
        if n % batch == 0:
            steps += p.flush()
    steps += p.flush()
    return steps


def test_a_batch_closes_the_partitions_windows_in_one_call_with_the_same_records(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    score = streams.closing.score_blocks

    def counted(pieces: Any, **kw: Any) -> Any:
        calls.append(len(pieces))
        return score(pieces, **kw)

    alone = pipeline()
    for part, pack in messages(range(40)):
        alone.ingest("flooding", part, pack)
    monkeypatch.setattr(streams.closing, "score_blocks", counted)
    together = pipeline()
    steps = joint_run(together, range(40), batch=24)
    out = together.take_output()
    same(alone.take_output(), out)
    assert dict((k, b) for k, _, b in alone.checkpoint()) == \
        dict((k, b) for k, _, b in together.checkpoint())
    assert max(calls) == 4  # the four partitions' windows in one detector call
    assert sum(steps) == 3 * 39 * 3 + 3 * 29  # every series' every closed window, once
    assert ("flood-P2-01", "opened") in {(a.source, a.change) for a in out.alerts}


def test_a_small_chunk_splits_the_joint_close_into_steps_with_the_same_records() -> None:
    whole, chunked = pipeline(), pipeline(chunk_rows=2)
    joint_run(whole, range(30), batch=48)
    steps = joint_run(chunked, range(30), batch=48)
    assert steps and max(steps) <= 2
    same(whole.take_output(), chunked.take_output())
    assert whole.checkpoint() == chunked.checkpoint()


def compacting_run(minutes_after: range) -> tuple[Output, dict[str, bytes | None], int]:
    """Partitions 0-3 for 20 minutes, then partitions 0 and 1 revoked (half the plan's
    slots released) and the rest read on."""
    p = pipeline()
    joint_run(p, range(20), batch=16)
    p.take_output()
    p.revoke({0, 1})
    joint_run(p, minutes_after, batch=16, partitions=range(2, 4))
    columns = p.state("flooding", 2).blocks["flood_depth"].columns
    return p.take_output(), {k: b for k, _, b in p.checkpoint()}, len(columns)


def test_slots_given_back_on_revoke_are_compacted_and_the_rest_score_as_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    later = range(20, 40)
    kept_out, kept_state, kept_size = compacting_run(later)
    monkeypatch.setattr(streams.plan_columns, "_MIN_COMPACT", 1)
    out, state, size = compacting_run(later)
    assert (kept_size, size) == (12, 6)  # the revoked partitions' slots are gone
    same(kept_out, out)
    assert kept_state == state
    assert ("flood-P2-01", "opened") in {(a.source, a.change) for a in out.alerts}


def evicting_run() -> tuple[Output, dict[str, bytes | None], int]:
    """Every partition for 30 minutes, but of each partition's towers only flood-Px-01
    reports after minute 12: the other eight series are evicted ten minutes later."""
    p = pipeline(evict_after_s=600.0)
    for n, (part, pack) in enumerate(messages(range(30)), 1):
        if n > 12 * 6 * 3:
            pack = [r for r in pack if r.source.endswith("-01")]
        p.fold("flooding", part, pack)
        p.settle("flooding", part)
        if n % 16 == 0:
            p.schedule.drain()
    p.schedule.drain()
    columns = p.state("flooding", 2).blocks["flood_depth"].columns
    return p.take_output(), {k: b for k, _, b in p.checkpoint()}, len(columns)


def test_evicted_series_are_compacted_away_and_the_others_keep_their_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kept_out, kept_state, kept_size = evicting_run()
    monkeypatch.setattr(streams.plan_columns, "_MIN_COMPACT", 1)
    out, state, size = evicting_run()
    # compacted once six slots were given back: partition 3 still held its three then
    assert (kept_size, size) == (12, 6)
    same(kept_out, out)
    assert kept_state == state
    assert sum(b is None for b in state.values()) == 8
    assert ("flood-P2-01", "opened") in {(a.source, a.change) for a in out.alerts}
