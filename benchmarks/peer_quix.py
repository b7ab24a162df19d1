"""The peer row of ``benchmarks/throughput.py``: the worker's windowing written with Quix Streams.

The job, as a Python team would write it with ``quixstreams`` 3.x (the ``bench`` extra):
read the events topic from the beginning with a consumer group of its own, parse each
message's JSON (Quix's ``json`` deserializer; one reading or a pack), expand packs into
readings, re-key them by source and metric (``group_by``: Quix windows per message key, so
this goes through a repartition topic), take the event time from the reading's ``ts``, and
keep a 60 s tumbling window per series with count, mean, min, max and standard deviation,
emitted when it closes. State lives in RocksDB with changelog topics (Quix's defaults).

Unlike the worker and the bare loop it does not validate the event contract (no
:func:`ioc.events.decode_readings`): that favours the peer.

It counts a reading when the window took it (``after_update``), and a late one (dropped by
the window) apart; it stops once the two add up to the produced count. It runs in a child
process of its own, so its CPU seconds (librdkafka's threads included) are its own:
:func:`run_peer` starts it and returns its figures, or ``{"skipped": reason}`` when Quix
Streams is missing or fails, never raising.

Run alone: ``.venv/bin/python benchmarks/peer_quix.py --bootstrap HOST:PORT --topic T
--total N``; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WINDOW_MS = 60_000
_NOT_RUN = "quixstreams is not installed (pip install -e '.[bench]')"


def run_peer(bootstrap: str, topic: str, total: int, *, timeout_s: float = 900.0,
             workdir: Path | None = None) -> dict[str, Any]:
    """Run the Quix Streams job on ``topic`` until it has taken ``total`` readings.

    Returns ``rate`` and ``cpu_rate`` (readings per wall-clock and per CPU second, first to
    last reading), ``aggregated``, ``late`` and ``windows_closed``; or ``{"skipped": reason}``.
    """
    if importlib.util.find_spec("quixstreams") is None:
        return {"skipped": _NOT_RUN}
    with tempfile.TemporaryDirectory(prefix="ioc-bench-quix-", dir=workdir) as tmp:
        log = Path(tmp) / "quix.log"
        cmd = [sys.executable, __file__, "--bootstrap", bootstrap, "--topic", topic,
               "--total", str(total), "--state-dir", str(Path(tmp) / "state")]
        try:
            with log.open("wb") as err:
                done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err,
                                      timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return {"skipped": f"no result within {timeout_s:.0f} s; log: {_tail(log)}"}
        lines = done.stdout.decode(errors="replace").strip().splitlines()
        if done.returncode != 0 or not lines:
            return {"skipped": f"exit {done.returncode}; log: {_tail(log)}"}
        try:
            result: dict[str, Any] = json.loads(lines[-1])
        except ValueError:
            return {"skipped": f"unreadable result {lines[-1][:200]!r}"}
        return result


def _tail(log: Path, chars: int = 600) -> str:
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return "(none)"
    return " | ".join(text[-chars:].splitlines()) or "(empty)"


class _Tally:
    """Readings the window took, late ones it dropped, closed windows, and when."""

    def __init__(self, total: int, stop: Any) -> None:
        self.total, self.stop = total, stop
        self.aggregated = self.late = self.windows = 0
        self.first: tuple[float, float] | None = None
        self.last = (0.0, 0.0)

    def _seen(self) -> None:
        now = (time.perf_counter(), time.process_time())
        if self.first is None:
            self.first = now
        self.last = now
        if self.aggregated + self.late >= self.total:
            self.stop()

    def taken(self, aggregated: Any, value: Any, key: Any, ts: int, headers: Any) -> bool:
        self.aggregated += 1
        self._seen()
        return False  # never close a window early

    def dropped(self, *args: Any, **kwargs: Any) -> bool:
        self.late += 1
        self._seen()
        return False  # do not log each one

    def closed(self, window: Any) -> None:
        self.windows += 1


def _aggregators() -> dict[str, Any]:
    from quixstreams.dataframe.windows import aggregations as agg

    class Std(agg.Aggregator):
        """Population standard deviation (Welford), as the worker's summaries give."""

        def initialize(self) -> list[float]:
            return [0.0, 0.0, 0.0]

        def agg(self, old: list[float], new: Any, timestamp: int) -> list[float]:
            x = new[self.column]
            n, mean, m2 = old[0] + 1, old[1], old[2]
            delta = x - mean
            mean += delta / n
            return [n, mean, m2 + delta * (x - mean)]

        def result(self, value: list[float]) -> float:
            return math.sqrt(value[2] / value[0]) if value[0] else 0.0

    return {"count": agg.Count(), "mean": agg.Mean("value"), "min": agg.Min("value"),
            "max": agg.Max("value"), "std": Std("value")}


def _pack(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _series(reading: dict[str, Any]) -> str:
    return f"{reading['source']}|{reading['metric']}"


def _event_ms(value: dict[str, Any], key: Any, ts: int, headers: Any) -> int:
    return int(value["ts"] * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--state-dir", default=None)
    args = ap.parse_args()

    from quixstreams import Application

    app = Application(broker_address=args.bootstrap,
                      consumer_group=f"bench-peer-quix-{args.topic}",
                      auto_offset_reset="earliest", loglevel="WARNING",
                      state_dir=args.state_dir or tempfile.mkdtemp(prefix="ioc-quix-"))
    tally = _Tally(args.total, app.stop)
    sdf = app.dataframe(app.topic(args.topic, value_deserializer="json"))
    sdf = sdf.apply(_pack, expand=True)
    sdf = sdf.group_by(_series, name="series")
    sdf = sdf.set_timestamp(_event_ms)
    sdf = (sdf.tumbling_window(WINDOW_MS, after_update=tally.taken, on_late=tally.dropped)
           .agg(**_aggregators()).final())
    sdf = sdf.update(tally.closed)
    app.run()

    if tally.first is None:
        raise SystemExit("the peer took no reading")
    wall = tally.last[0] - tally.first[0]
    cpu = tally.last[1] - tally.first[1]
    print(json.dumps({"rate": tally.aggregated / max(wall, 1e-9),
                      "cpu_rate": tally.aggregated / max(cpu, 1e-9),
                      "aggregated": tally.aggregated, "late": tally.late,
                      "windows_closed": tally.windows}))


if __name__ == "__main__":
    main()
