"""Replay recorded readings (CSV or JSON lines) into the events topics.

A recording is either

* **CSV** with a header naming the columns ``ts,group,source,metric,district,value,kind``
  (any order) and optionally ``unit``, ``lat``, ``lon``; ``value`` is empty for counted events
  and ``kind`` empty for measured readings; ``ts`` is epoch seconds or RFC 3339;
* **JSON lines**: one reading, or one pack (a JSON list of readings), per line: exactly what
  ``ioc simulate --output`` writes and what travels on the topics.

Every line is validated with the event contract (:func:`ioc.events.decode_readings`); a bad
line is reported as ``file:line: field: reason``, counted and skipped. The recorded
inter-arrival times are kept, scaled by ``speed`` (``None``/``0``: as fast as possible).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rec.csv"
>>> _ = path.write_text("ts,group,source,metric,district,value,kind\\n"
...     "1795410000,flooding,rain-HC-01,rainfall,Hai Chau,2.5,\\n"
...     "1795410001,flooding,rain-HC-01,rainfall,Hai Chau,lots,\\n")
>>> for item in read_recording(path):
...     print(item if isinstance(item, BadLine) else item.readings[0].value)
2.5
rec.csv:3: value: not a number: 'lots'
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from ioc.errors import UsageError, ValidationError
from ioc.events import Reading, decode_readings, encode
from ioc.tools.producer import Progress, Sink
from ioc.tools.simulator import Message, Pacer, to_messages

CSV_REQUIRED: tuple[str, ...] = ("ts", "group", "source", "metric", "district", "value", "kind")
CSV_OPTIONAL: tuple[str, ...] = ("unit", "lat", "lon")
Format = Literal["csv", "jsonl"]


@dataclass(frozen=True, slots=True)
class Line:
    """A good line: its readings, and whether it was a pack."""

    number: int
    readings: list[Reading]
    pack: bool


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that breaks the contract."""

    name: str
    number: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}:{self.number}: {self.field}: {self.reason}"


def detect_format(path: Path, first_line: bytes) -> Format:
    """CSV or JSON lines, from the file name or else from the first line.

    >>> detect_format(Path("x.data"), b'{"group": 1}'), detect_format(Path("x.txt"), b"ts,group")
    ('jsonl', 'csv')
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if first_line.lstrip()[:1] in (b"{", b"[") else "csv"


def _open(path: Path) -> IO[bytes]:
    try:
        if path.is_dir():
            raise UsageError(f"cannot read {path}: it is a directory")
        return path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _field(exc: ValidationError) -> str:
    return exc.field[2:] if exc.field.startswith("$.") else exc.field


def check_recording(path: str | Path, fmt: Format | None = None) -> Format:
    """Open ``path`` and read its first line: its format, or a UsageError when the file cannot
    be read or its CSV header is wrong."""
    p = Path(path)
    with _open(p) as f:
        first = f.readline()
    kind = fmt or detect_format(p, first)
    if kind == "csv":
        for _item in _csv(p.name, iter([first])):
            break
    return kind


def read_recording(path: str | Path, fmt: Format | None = None) -> Iterator[Line | BadLine]:
    """Each non-blank line of a recording, validated: :class:`Line` or :class:`BadLine`.

    A CSV header that lacks a required column, or names an unknown one, is a UsageError
    (nothing in the file could be read right)."""
    p = Path(path)
    with _open(p) as f:
        first = f.readline()
        kind = fmt or detect_format(p, first)
        f.seek(0)
        if kind == "jsonl":
            yield from _jsonl(p.name, f)
        else:
            yield from _csv(p.name, f)


def _jsonl(name: str, f: Iterable[bytes]) -> Iterator[Line | BadLine]:
    for number, raw in enumerate(f, 1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            readings = decode_readings(raw)
        except ValidationError as exc:
            yield BadLine(name, number, _field(exc), exc.reason)
            continue
        yield Line(number, readings, raw[:1] == b"[")


def _csv(name: str, f: Iterable[bytes]) -> Iterator[Line | BadLine]:
    header: list[str] | None = None
    for number, raw in enumerate(f, 1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            if header is None:
                raise UsageError(f"{name}:{number}: the CSV header is not valid UTF-8") from None
            yield BadLine(name, number, "$", "not valid UTF-8")
            continue
        if not text.strip():
            continue
        fields = next(csv.reader([text]))
        if header is None:
            header = [h.strip().lower() for h in fields]
            missing = [c for c in CSV_REQUIRED if c not in header]
            unknown = [c for c in header if c not in CSV_REQUIRED + CSV_OPTIONAL]
            if missing or unknown:
                problem = (f"missing column(s) {', '.join(missing)}" if missing
                           else f"unknown column(s) {', '.join(unknown)}")
                raise UsageError(f"{name}:{number}: CSV header: {problem} (expected "
                                 f"{','.join(CSV_REQUIRED)}[,{','.join(CSV_OPTIONAL)}])")
            continue
        if len(fields) != len(header):
            yield BadLine(name, number, "$", f"{len(fields)} fields, the header has {len(header)}")
            continue
        try:
            record = _row(dict(zip(header, fields, strict=True)))
            readings = decode_readings(encode(record))
        except ValidationError as exc:
            yield BadLine(name, number, _field(exc), exc.reason)
            continue
        yield Line(number, readings, False)


def _number(column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValidationError(column, f"not a number: {text!r:.60}") from None


def _row(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a reading's JSON fields (empty cells left out)."""
    out: dict[str, Any] = {}
    for column, cell in row.items():
        cell = cell.strip()
        if not cell:
            continue
        if column in ("value", "lat", "lon"):
            out[column] = _number(column, cell)
        elif column == "ts":
            try:
                out["ts"] = float(cell)
            except ValueError:
                out["ts"] = cell
        else:
            out[column] = cell
    return out


@dataclass
class ReplayStats:
    """What a replay did."""

    lines: int = 0
    readings: int = 0
    messages: int = 0
    bad: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    wall_s: float = 0.0
    interrupted: bool = False

    def summary(self, name: str) -> str:
        """One line for the terminal."""
        span = ""
        if self.first_ts is not None and self.last_ts is not None:
            span = f", {self.last_ts - self.first_ts:g} s of recorded time"
        stop = " (interrupted)" if self.interrupted else ""
        return (f"replayed {self.readings} readings in {self.messages} messages from {name}"
                f"{span} in {self.wall_s:.1f} s; {self.bad} bad line(s) skipped{stop}")


def replay(path: str | Path, sink: Sink, *, speed: float | None = 1.0,
           fmt: Format | None = None, on_bad: Callable[[BadLine], None] | None = None,
           progress: bool = False, topic_prefix: str = "ioc") -> ReplayStats:
    """Send every good line of ``path`` to ``sink`` (a pack line stays a pack per source),
    keeping recorded inter-arrival times scaled by ``speed`` (``None``/``0``: no waiting),
    to the topics ``<topic_prefix>.<group>.events``."""
    p = Path(path)
    stats = ReplayStats()
    pacer = Pacer(speed or None)
    began = time.monotonic()
    base: float | None = None
    high = float("-inf")
    with Progress(progress, f"replaying {p.name}", None, unit="lines") as bar:
        try:
            for item in read_recording(p, fmt):
                stats.lines += 1
                if isinstance(item, BadLine):
                    stats.bad += 1
                    if on_bad is not None:
                        on_bad(item)
                    continue
                newest = max(r.epoch for r in item.readings)
                if base is None:
                    base = min(r.epoch for r in item.readings)
                    stats.first_ts = base
                high = max(high, newest)
                pacer.wait(high - base)
                msgs: list[Message] = to_messages(item.readings, pack=item.pack,
                                                  topic_prefix=topic_prefix)
                for m in msgs:
                    sink.send(m)
                stats.messages += len(msgs)
                stats.readings += len(item.readings)
                stats.last_ts = high
                bar.update(stats.lines, f"{stats.readings} readings, {stats.bad} bad")
        except KeyboardInterrupt:
            stats.interrupted = True
        bar.update(stats.lines, f"{stats.readings} readings, {stats.bad} bad", force=True)
    sink.flush()
    stats.wall_s = time.monotonic() - began
    return stats
