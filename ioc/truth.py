"""Ground truth: labelled anomalies, the contract between whoever injects them (the simulator,
a recorded incident log) and whoever scores detection against them (backtests, benchmarks).

>>> a = Anomaly("flooding", "rain-HC-01", "rainfall", "spike", 1795410000, 1795410060, "Hai Chau")
>>> a.active(1795410030), a.window_s
(True, 60)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ioc import catalog
from ioc.errors import UsageError

_TRUTH_FIELDS = ("group", "source", "metric", "kind", "start", "end", "district")


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One labelled injection on one source (and one metric, except silence: all of them)."""

    group: str
    source: str
    metric: str
    kind: str
    start: float
    end: float
    district: str
    sign: int = 1

    @property
    def window_s(self) -> int:
        """The window size of the anomaly's group."""
        return catalog.group(self.group).window_s

    def active(self, ts: float) -> bool:
        """True when ``ts`` falls inside ``[start, end)``."""
        return self.start <= ts < self.end

    def truth(self) -> dict[str, Any]:
        """The ground-truth record: group, source, metric, kind, start, end, district."""
        return {name: getattr(self, name) for name in _TRUTH_FIELDS}


def truth_line(anomaly: Anomaly) -> str:
    """One JSON line of ground truth.

    >>> a = Anomaly("flooding", "rain-HC-01", "rainfall", "silence", 1795410000.0, 1795410300.0,
    ...             "Hai Chau")
    >>> print(truth_line(a))
    {"group": "flooding", "source": "rain-HC-01", "metric": "rainfall", "kind": "silence", \
"start": 1795410000.0, "end": 1795410300.0, "district": "Hai Chau"}
    """
    return json.dumps(anomaly.truth())


def write_truth(path: str | Path, anomalies: Iterable[Anomaly]) -> int:
    """Write ground truth as JSON lines (atomically: a reader never sees half a file);
    return how many lines were written."""
    target = Path(path)
    lines = [truth_line(a) for a in anomalies]
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise UsageError(f"cannot write ground truth to {path}: {exc.strerror or exc}") from None
    return len(lines)


def read_truth(path: str | Path) -> list[Anomaly]:
    """Read a ground-truth file written by :func:`write_truth`."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read ground truth {path}: {exc.strerror or exc}") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out.append(Anomaly(str(rec["group"]), str(rec["source"]), str(rec["metric"]),
                               str(rec["kind"]), float(rec["start"]), float(rec["end"]),
                               str(rec["district"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}:{n}: not a ground-truth record: {exc}") from None
    return out
