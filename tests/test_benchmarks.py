"""Every benchmark still starts: its imports resolve and its options parse (``--help``).

Benchmarks run outside the test suite (they take minutes); this keeps a refactoring from
breaking one unseen.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_starts(path: Path) -> None:
    done = subprocess.run([sys.executable, str(path), "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()


def test_the_in_process_pipeline_benchmark_measures_every_phase() -> None:
    done = subprocess.run([sys.executable, "benchmarks/pipeline.py", "--readings", "40000",
                           "--sources", "100", "--cadence", "10", "--repeat", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["readings"] == 40000 and got["target"] == 0.5 and got["checkpoint_cpu_s"] == 0
    assert all(got[f"{phase}_cpu_s"] > 0 for phase in ("decode", "fold", "close", "publish"))
    assert 0 < got["ratio"] < 1.5


def test_a_bad_argument_to_the_pipeline_benchmark_says_what_to_fix() -> None:
    done = subprocess.run([sys.executable, "benchmarks/pipeline.py", "--cadence", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--cadence above 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_memory_benchmark_gateways_send_every_minute() -> None:
    """No pack holds readings of two minutes: a sparse group's readings used to wait in a
    gateway's pack behind later windows, and the worker's idle rule closed their window first
    (the run stopped on late readings)."""
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import memory as m\n"
        "srcs = m.sources(3000)\n"
        "out = []\n"
        "for group, part, raw, n in m.stream(srcs, range(0, 12), 4, 500):\n"
        "    ts = [r['ts'] for r in json.loads(raw)]\n"
        "    out.append([group, part, min(ts), max(ts), n, len(ts)])\n"
        "print(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    packs = json.loads(done.stdout)
    assert packs and all(n == k <= 500 for *_, n, k in packs)
    t0 = 1_795_366_800.0  # benchmarks/memory.py T0
    assert all((lo - t0) // 60 == (hi - t0) // 60 for _, _, lo, hi, _, _ in packs)
    newest: dict[tuple[str, int], float] = {}
    for group, part, lo, hi, _, _ in packs:  # each gateway's packs in event-time order
        assert lo >= newest.get((group, part), lo)
        newest[(group, part)] = hi


def test_a_bad_worker_runs_count_says_what_to_fix() -> None:
    done = subprocess.run([sys.executable, "benchmarks/throughput.py", "--worker-runs", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--worker-runs must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.kafka
def test_a_stream_too_small_to_time_says_so_instead_of_a_zero_rate(kafka_bootstrap: str) -> None:
    """2,000 readings are read between two polls of the worker's metrics: the benchmark says
    so and how to fix it, rather than printing a worker rate of 0."""
    done = subprocess.run([sys.executable, "benchmarks/throughput.py", "--bootstrap",
                           kafka_bootstrap, "--readings", "2000", "--sources", "100",
                           "--worker-runs", "1", "--no-peer"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout[-2000:]
    assert "rate cannot be timed; give more readings (--readings" in done.stderr
    assert "Traceback" not in done.stderr
