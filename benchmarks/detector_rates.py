"""Updates per second of every registered detector, next to the work the conformance suite
counts for it.

The suite's :func:`detectors.checks_cost.check_bounded_work` counts bytecode instructions and C
calls per update (the same on any machine load); this times the same input, so the ceiling
can be read in microseconds: per detector, the best of ``--repeat`` runs of at least
``--seconds`` each of :func:`detectors.checks.check_throughput`'s input (its floors: 20,000
updates/s per key, 1,000 per vector), wall and CPU time, the counted work per update and the
nanoseconds one counted step took. Prints a table and a last line of JSON. Run:
``.venv/bin/python benchmarks/detector_rates.py [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from detectors.base import Detector, VectorDetector
from detectors.checks import MIN_RATE, MIN_RATE_VECTOR
from detectors.checks_cost import WORK_STEPS, WORK_STEPS_VECTOR, count_work
from detectors.checks_streams import Step, apply_step, stream
from detectors.registry import load_all


def rate(make: Callable[[], Detector], steps: list[Step], seconds: float,
         repeat: int) -> tuple[float, float]:
    """Best updates per wall second and per CPU second over ``repeat`` runs."""
    best_wall = best_cpu = 0.0
    for _ in range(repeat):
        det = make()
        done = 0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        while time.perf_counter() - wall0 < seconds:
            for step in steps:
                apply_step(det, step)
            done += len(steps)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        best_wall = max(best_wall, done / wall)
        best_cpu = max(best_cpu, done / max(cpu, 1e-9))
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="detector names (default: all)")
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum length of one run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per detector (the best counts)")
    a = ap.parse_args()
    registry = load_all(require=False)
    rows = []
    print(f"{'detector':<18} {'updates/s':>10} {'per CPU s':>10} {'floor':>7} "
          f"{'work/update':>11} {'ns/step':>8}")
    for name in a.only or sorted(registry.names()):
        cls = registry.get(name)
        vector = issubclass(cls, VectorDetector)
        timed = list(stream(cls(), 4000, seed=8))
        wall, cpu = rate(cls, timed, a.seconds, a.repeat)
        counted = list(stream(cls(), WORK_STEPS_VECTOR if vector else WORK_STEPS, seed=8))
        warm = cls()
        for step in counted:
            apply_step(warm, step)
        work = count_work(cls(), counted) / len(counted)
        floor = MIN_RATE_VECTOR if vector else MIN_RATE
        ns = 1e9 / cpu / work
        rows.append({"detector": name, "updates_per_s": round(wall),
                     "updates_per_cpu_s": round(cpu), "floor": floor,
                     "work_per_update": round(work), "ns_per_step": round(ns, 2)})
        print(f"{name:<18} {wall:>10,.0f} {cpu:>10,.0f} {floor:>7,.0f} {work:>11,.0f} "
              f"{ns:>8.2f}{'' if wall >= floor else '  below the floor'}")
    print(json.dumps({"detectors": rows}))


if __name__ == "__main__":
    main()
