"""Corpora in NAB's layout on disk: reading the data and labels, writing and reading results.

This module and :mod:`detectors.evaluation` are the ones in :mod:`detectors` that touch files
(offline tooling). A corpus directory looks like NAB's::

    DIR/data/<category>/<file>.csv       timestamp,value (timestamps "YYYY-MM-DD HH:MM:SS")
    DIR/labels/combined_windows.json     {"<category>/<file>.csv": [[start, end], ...], ...}
    DIR/config/profiles.json             {"standard": {"CostMatrix": {...}}, ...} (optional)

Only files listed in the labels are loaded (as NAB scores them). Results are written in NAB's
results layout, ``OUT/<detector>/<category>/<detector>_<file>.csv`` with the columns
``timestamp,value,anomaly_score``, and :func:`load_results` reads that layout back (also
NAB's published results, which carry extra columns).

>>> import tempfile, json, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "data" / "toy").mkdir(parents=True); (root / "labels").mkdir()
>>> _ = (root / "data/toy/a.csv").write_text("timestamp,value\\n2020-01-01 00:00:00,1.5\\n")
>>> _ = (root / "labels/combined_windows.json").write_text(json.dumps({"toy/a.csv": []}))
>>> corpus = load_corpus(root)
>>> corpus.names, corpus.series["toy/a.csv"].values.tolist()
(['toy/a.csv'], [1.5])
>>> [p.name for p in write_results(root / "out", "zero", corpus, {"toy/a.csv": [0.25]})]
['zero_a.csv']
>>> load_results(root / "out", "zero", corpus)["toy/a.csv"].tolist()
[0.25]
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from detectors import nab

__all__ = [
    "Corpus",
    "FloatArray",
    "Series",
    "default_nab_dir",
    "load_corpus",
    "load_results",
    "read_series",
    "write_results",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Series:
    """One data file: row times (``datetime64[s]``) and values."""

    name: str
    times: npt.NDArray[np.datetime64]
    values: FloatArray

    @property
    def epoch(self) -> FloatArray:
        """Row times as epoch seconds (what :meth:`Detector.update` takes as ``ts``)."""
        return self.times.astype("datetime64[s]").astype(np.int64).astype(np.float64)

    def __len__(self) -> int:
        return int(self.values.size)


@dataclass(frozen=True, slots=True)
class Corpus:
    """A loaded NAB-layout corpus: series, their labelled windows and the scoring profiles."""

    root: Path
    series: dict[str, Series]
    labelled: dict[str, nab.Labelled]
    profiles: dict[str, nab.CostMatrix]

    @property
    def names(self) -> list[str]:
        return sorted(self.series)

    @property
    def rows(self) -> int:
        return sum(len(s) for s in self.series.values())

    @property
    def windows(self) -> int:
        return sum(len(lab.windows) for lab in self.labelled.values())


def default_nab_dir(repo_root: Path | None = None) -> Path:
    """``$IOC_NAB_DIR`` if set, else ``<repo>/../shared/data/nab`` (it may not exist)."""
    env = os.environ.get("IOC_NAB_DIR")
    if env:
        return Path(env)
    root = repo_root or Path(__file__).resolve().parent.parent
    return root.parent / "shared" / "data" / "nab"


def _parse_times(raw: Sequence[str], where: str) -> npt.NDArray[np.datetime64]:
    try:
        return np.array(raw, dtype="datetime64[s]")
    except ValueError as exc:
        raise ValueError(f"{where}: bad timestamp: {exc}") from None


def _read_columns(path: Path, columns: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """The header and the wanted columns (as strings) of a CSV file."""
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file")
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} in {header}")
        idx = [header.index(c) for c in columns]
        cols: list[list[str]] = [[] for _ in columns]
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                for out, i in zip(cols, idx, strict=True):
                    out.append(row[i])
            except IndexError:
                raise ValueError(f"{path}:{line}: too few fields") from None
    return header, cols


def read_series(path: Path, name: str | None = None) -> Series:
    """Read a ``timestamp,value`` CSV file (rows are kept in file order)."""
    _, (ts, vals) = _read_columns(path, ("timestamp", "value"))
    times = _parse_times(ts, str(path))
    try:
        values = np.array(vals, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: bad value: {exc}") from None
    return Series(name or path.name, times, values)


def load_corpus(root: Path | str, *, files: Iterable[str] | None = None) -> Corpus:
    """Load a corpus in NAB's layout; ``files`` picks a subset by relative name.

    Raises ``FileNotFoundError`` for a missing directory or labels file and ``ValueError``
    for malformed content (both name the file).
    """
    root = Path(root)
    data_dir = root / "data"
    labels_path = root / "labels" / "combined_windows.json"
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir}: no data directory (expected NAB's layout)")
    if not labels_path.is_file():
        raise FileNotFoundError(f"{labels_path}: no labels file")
    try:
        windows = json.loads(labels_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{labels_path}: not JSON: {exc}") from None
    if not isinstance(windows, dict):
        raise ValueError(f"{labels_path}: expected an object of file -> windows")
    profiles_path = root / "config" / "profiles.json"
    if profiles_path.is_file():
        try:
            profiles = nab.profiles_from_json(json.loads(profiles_path.read_text()))
        except (json.JSONDecodeError, ValueError) as exc:
            raise ValueError(f"{profiles_path}: {exc}") from None
    else:
        profiles = dict(nab.NAB_PROFILES)

    wanted = sorted(windows) if files is None else list(files)
    unknown = [f for f in wanted if f not in windows]
    if unknown:
        raise ValueError(f"{labels_path}: no labels for {', '.join(unknown)}")
    series: dict[str, Series] = {}
    labelled: dict[str, nab.Labelled] = {}
    for name in wanted:
        path = data_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: labelled file is missing")
        s = read_series(path, name)
        limits = windows[name]
        if not isinstance(limits, list) or not all(
            isinstance(w, list) and len(w) == 2 for w in limits
        ):
            raise ValueError(f"{labels_path}: windows of {name} must be [[start, end], ...]")
        pairs = [(_parse_times([a], name)[0], _parse_times([b], name)[0]) for a, b in limits]
        series[name] = s
        labelled[name] = nab.Labelled.from_times(name, s.times, pairs)
    return Corpus(root, series, labelled, profiles)


# --- results files ------------------------------------------------------------------------


def _results_path(out_dir: Path, detector: str, name: str) -> Path:
    rel = Path(name)
    return out_dir / detector / rel.parent / f"{detector}_{rel.name}"


def write_results(
    out_dir: Path | str, detector: str, corpus: Corpus, results: Mapping[str, npt.ArrayLike]
) -> list[Path]:
    """Write ``timestamp,value,anomaly_score`` CSVs in NAB's results layout; the paths."""
    out_dir = Path(out_dir)
    written = []
    for name in corpus.names:
        s = corpus.series[name]
        scores = np.asarray(results[name], dtype=np.float64)
        path = _results_path(out_dir, detector, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        stamps = np.datetime_as_string(s.times, unit="s")
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(("timestamp", "value", "anomaly_score"))
            for t, v, a in zip(stamps.tolist(), s.values.tolist(), scores.tolist(), strict=True):
                w.writerow((t.replace("T", " "), repr(v), repr(a)))
        written.append(path)
    return written


def load_results(results_dir: Path | str, detector: str, corpus: Corpus) -> dict[str, FloatArray]:
    """Read ``anomaly_score`` per file from NAB's results layout under ``results_dir``."""
    results_dir = Path(results_dir)
    out: dict[str, FloatArray] = {}
    for name in corpus.names:
        path = _results_path(results_dir, detector, name)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no results for {name}")
        _, (ts, scores) = _read_columns(path, ("timestamp", "anomaly_score"))
        times = _parse_times(ts, str(path))
        if not np.array_equal(times, corpus.series[name].times):
            raise ValueError(f"{path}: timestamps differ from the data file {name}")
        try:
            out[name] = np.array(scores, dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"{path}: bad anomaly_score: {exc}") from None
    return out
