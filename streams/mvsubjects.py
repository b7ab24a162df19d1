"""The live multivariate models' subjects and their table records.

A :class:`Subject` is where one :class:`~detectors.vector_model.VectorModel` lives (group,
source, alert metric, district, partition). Its state goes with the series' state to the
``series`` table: reservoir, schedule and policy under ``group\\tsource\\t~metric`` (on every
change), its model under ``...~metric.model`` (only when a new version is installed), both
as msgpack of plain numbers and array bytes (:mod:`detectors.forest_model`).
:class:`Subjects` keeps them, writes their records and puts them back
(:meth:`Subjects.restore`): the same model version scores at once, no refit.

>>> from detectors.policies import Threshold
>>> from detectors.vector_model import IsoParams
>>> subjects = Subjects(Threshold(0.9), IsoParams())
>>> s = subjects.new(("environment", "air-1", "combined"), "Hai Chau", 2, ("pm25", "pm10"))
>>> s.dirty = True
>>> [(key, part) for key, part, _blob in subjects.checkpoint()]
[('environment\\tair-1\\t~combined', 2)]
>>> blob = subjects.snapshot({2})[0][2]
>>> owns(blob), Subjects(Threshold(0.9), IsoParams()).restore(blob) is None
(True, False)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import msgspec

from detectors.forest_model import ForestModel
from detectors.policies import Policy
from detectors.vector_model import IsoParams, VectorModel
from ioc.catalog_types import Direction
from streams.recent import RecentRing
from streams.series import series_key

__all__ = ["HarmfulOf", "Key", "Record", "Subject", "Subjects", "owns"]

log = logging.getLogger("ioc.worker")
Key = tuple[str, str, str]  # (group, source, alert metric)
#: a subject's features' harmful sides, from its key and features (the direction rule)
HarmfulOf = Callable[[Key, tuple[str, ...]], Mapping[str, Direction]]
Record = tuple[str, int, bytes]  # (table key, partition, blob)
_TAG = "ioc.mv"
_ENC = msgspec.msgpack.Encoder()


@dataclass(slots=True)
class Subject:
    """One subject: where it lives, its model, the feature its last firing named, and its
    features' recent window values in their units (a ring row per feature, for alerts'
    sparklines; in memory only, like :mod:`streams.recent`: it fills again after a
    restart)."""

    group: str
    source: str
    metric: str
    district: str
    partition: int
    vm: VectorModel
    dirty: bool = False
    model_dirty: bool = False
    recent: RecentRing = field(default_factory=RecentRing)
    cause: str | None = None  # the feature its last firing named

    @property
    def key(self) -> Key:
        return self.group, self.source, self.metric


def owns(blob: bytes) -> bool:
    """Is this table value a subject's (not a series')?"""
    return _TAG.encode() in blob[:12]


def _record(subj: Subject, kind: str, payload: bytes) -> Record:
    suffix = ".model" if kind == "model" else ""
    blob = _ENC.encode([_TAG, kind, subj.group, subj.source, subj.metric, subj.district,
                        subj.partition, payload])
    return series_key(subj.group, subj.source, f"~{subj.metric}{suffix}"), subj.partition, blob


def _model_record(subj: Subject) -> Record:
    assert subj.vm.model is not None
    return _record(subj, "model", subj.vm.model.to_bytes())


def _state_record(subj: Subject) -> Record:
    return _record(subj, "state", subj.vm.state())


class Subjects:
    """The subjects a worker owns, by key, with their policy template and parameters."""

    def __init__(self, policy: Policy, params: IsoParams,
                 harmful_of: HarmfulOf | None = None) -> None:
        self.policy = policy
        self.params = params
        self.harmful_of = harmful_of
        self.by_key: dict[Key, Subject] = {}

    def _harmful(self, key: Key, features: Iterable[str]) -> Mapping[str, Direction] | None:
        return self.harmful_of(key, tuple(features)) if self.harmful_of else None

    def __len__(self) -> int:
        return len(self.by_key)

    def __iter__(self) -> Iterator[Subject]:
        return iter(self.by_key.values())

    def get(self, key: Key) -> Subject | None:
        return self.by_key.get(key)

    def new(self, key: Key, district: str, partition: int, features: Iterable[str]) -> Subject:
        """A fresh subject (no model yet) under ``key``."""
        names = tuple(features)
        vm = VectorModel(names, self.policy.clone(), self.params,
                         harmful=self._harmful(key, names))
        subj = self.by_key[key] = Subject(*key, district, partition, vm)
        return subj

    def revoke(self, partitions: Iterable[int]) -> list[Key]:
        """Forget the subjects of ``partitions``; returns their keys."""
        gone = set(partitions)
        keys = [k for k, s in self.by_key.items() if s.partition in gone]
        for key in keys:
            del self.by_key[key]
        return keys

    # --- records ---------------------------------------------------------------------------
    def checkpoint(self) -> list[Record]:
        """The records of every subject that changed since the last call."""
        out: list[Record] = []
        for subj in self.by_key.values():
            if subj.model_dirty:
                out.append(_model_record(subj))
                subj.model_dirty = False
            if subj.dirty:
                out.append(_state_record(subj))
                subj.dirty = False
        return out

    def unsaved(self) -> int:
        """Records :meth:`checkpoint` would return now."""
        return sum(s.model_dirty + s.dirty for s in self.by_key.values())

    def snapshot(self, partitions: Container[int]) -> list[Record]:
        """Every subject of ``partitions`` as it is now (model and state)."""
        out: list[Record] = []
        for subj in self.by_key.values():
            if subj.partition in partitions:
                if subj.vm.model is not None:
                    out.append(_model_record(subj))
                out.append(_state_record(subj))
        return out

    def restore(self, blob: bytes, partitions: Container[int] | None = None
                ) -> tuple[str, str, int] | None:
        """Put back a subject's state or model; returns its (kind, group, partition), or None
        when the blob does not check, its partition is not owned, or the subject is already
        live with this much (a newer state or model)."""
        try:
            _tag, kind, group, source, metric, district, partition, payload = \
                msgspec.msgpack.decode(blob)
            if partitions is not None and partition not in partitions:
                return None
            key, part = (str(group), str(source), str(metric)), int(partition)
            if kind == "model":
                done = self._restore_model(key, str(district), part, bytes(payload))
            else:
                done = kind == "state" and self._restore_state(key, str(district), part,
                                                               bytes(payload))
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            log.warning("a multivariate state did not check and was skipped: %s", exc)
            return None
        return (kind, key[0], part) if done else None

    def _restore_model(self, key: Key, district: str, partition: int, payload: bytes) -> bool:
        model = ForestModel.from_bytes(payload)
        subj = self.by_key.get(key) or self.new(key, district, partition, model.features)
        return subj.vm.install(model, restored=True)

    def _restore_state(self, key: Key, district: str, partition: int, payload: bytes) -> bool:
        vm = VectorModel.from_state(payload, self.policy.clone(), self.params)
        vm.harmful = self._harmful(key, vm.features) or {}
        subj = self.by_key.get(key)
        if subj is not None:
            if subj.vm.last_end >= vm.last_end:
                return False
            if subj.vm.model is not None:
                vm.install(subj.vm.model, restored=True)
        self.by_key[key] = Subject(*key, district, partition, vm)
        if subj is not None:
            self.by_key[key].recent, self.by_key[key].cause = subj.recent, subj.cause
        return True
