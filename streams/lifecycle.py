"""The alert lifecycle: detector verdicts and operator commands in, versioned alert records out.

Pure and synchronous (no Faust, no I/O): the worker's agents call :class:`AlertBook` and
publish what it returns on ``ioc.alerts`` (key: the alert's district). State lives in a
``MutableMapping[str, bytes]`` passed in: the worker passes a Faust table created with
``value_type=bytes, value_serializer="raw"`` (always re-assigned, never mutated in place), tests
pass a dict. The book takes the inputs; the rest lives beside it: where lanes are kept and
placed (:mod:`streams.lane_store`), the lane record (:mod:`streams.lanes`), its transitions
(:mod:`streams.transitions`, :mod:`streams.silencing`, :mod:`streams.lane_commands`), verdicts
and evidence (:mod:`streams.evidence`), titles (:mod:`streams.titles`) and severity
(:mod:`streams.severity`); the names other modules import from here are re-exported.

**Lanes.** Per (group, source, metric) the detectors form two lanes, ``city`` and
``sensor_health`` (detectors with ``health = True``). A lane holds at most one open alert: the
first detector that fires opens it (its name is in ``alert_id``; of several firing on the same
window, the highest score); other detectors of the lane that fire while it is open update it
(evidence, score, severity). Hysteresis counts the lane's windows in which no detector fired.
The store key is the lane key ``group:source:metric:category``; create the Faust table
without a ``default``. A lane lives on one changelog partition, the one its readings arrive on
(``observe(..., partition=P)``), kept in the lane record (:mod:`streams.lanes`): every write
of the lane (a window, a command, a tick, a silence) goes to ``store.put(key, value,
partition)`` when the store has ``put`` (:class:`~streams.tables.PartitionedStore`), so the
store never has to ask anyone where a key lives. A lane written before the partition was kept
(or observed without one) falls back to the partition Kafka's default partitioner gives its
source among ``partitions``, until a window observed with a partition moves it there.

**Lifecycle.** ``opened`` (status ``firing``) -> ``updated``/``escalated`` on each further firing
window -> ``acknowledged`` (stays visible, keeps updating) -> ``resolved`` (by an operator) or
``auto_resolved`` after ``resolve_after`` normal windows in a row (hysteresis). An alert that
fires again within ``flap_window_s`` of its resolution is ``reopened`` (same alert_id, count
and first_seen go on) and needs more normal windows to auto-resolve next time (flap damping: x2,
x3, ... up to ``1 + max_flap_boost``). Later, the same key ``opened`` a new episode under the
same alert_id with the next version. A matching silence turns an open alert ``silenced`` (its
updates are kept but not published) and ``unsilenced`` when it ends or is lifted (its status
goes back to what it would be without the silence: ``firing`` or ``acknowledged``, with the
updates it held). **A new firing on a silenced key is still recorded**: it opens (or reopens)
with status ``silenced``, so the audit trail shows every firing. ``note`` appends a
:class:`~ioc.events.Note`.

**Audit and restarts.** Every published change is an :class:`~ioc.events.Alert` with
``version`` = previous + 1 for its alert_id (versions go on across episodes). Every transition
is a pure function of (stored lane, input); a lane's clock only moves forward. An input the
lane has already applied (a window end a detector already reported, a command id already
applied) changes nothing and returns the lane's last published record again - identical
(alert_id, version, content) - so a worker restored from its changelog neither loses nor
forks a version. ``user``, ``display_name`` and ``reason`` name the person behind the
record's status (the acknowledging, silencing or resolving user as ``role:login``, their
display name as their command carried it, and why; a note's author), so the trail names
people; automatic changes of a firing alert carry ``user=None``, no display name and a
``reason`` in words.

>>> from ioc.events import Evidence
>>> book = AlertBook({}, resolve_after=2, flap_window_s=300.0)
>>> silences = SilenceBook({})
>>> def window(end, score, firing=True):
...     ev = Evidence(window_start=end - 60, window_end=end, value=34.0, baseline=2.0,
...                   threshold=4.0, score=score, raw=5.2, detector="robust_z",
...                   detector_version="1", params={"threshold": 4.0},
...                   recent=[2.0, 2.1, 34.0])
...     return book.observe(group="flooding", district="Hai Chau", source="flood-HC-01",
...                         metric="flood_depth", ts=end, silences=silences,
...                         verdicts=[Verdict(firing=firing, health=False, evidence=ev)])
>>> [(a.change, a.version, a.status, a.severity) for a in window(1795410060.0, 0.95)]
[('opened', 1, 'firing', 'warning')]
>>> window(1795410060.0, 0.95)[0].version   # the same window again: nothing new
1
>>> print(window(1795410120.0, 0.99)[0].title)
Flood depth 34 cm at flood tower 01, Hai Chau: above its normal 0–8 cm
>>> ack = Command(command_id="c1", action="ack", user="operator:lan", ts=1795410130.0,
...               reason="crew sent", alert_id="robust_z:flooding:flood-HC-01:flood_depth",
...               display_name="Lan Nguyen")
>>> [(a.change, a.status, a.user, a.display_name, a.reason)
...  for a in book.command(ack, now=1795410130.0, silences=silences)]
[('acknowledged', 'acknowledged', 'operator:lan', 'Lan Nguyen', 'crew sent')]
>>> window(1795410180.0, 0.0, firing=False)
[]
>>> [(a.change, a.version, a.status) for a in window(1795410240.0, 0.0, firing=False)]
[('auto_resolved', 4, 'resolved')]
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ioc.errors import ValidationError
from ioc.events import Alert, Command, split_alert_id
from streams.evidence import Verdict, clean_evidence, evidence_from
from streams.lane_commands import apply_command
from streams.lane_store import LaneStore, Owns
from streams.lanes import CITY, HEALTH, LANES, OPEN, Lane, LaneAddress, lane_key
from streams.severity import EscalationPolicy
from streams.shadow import shadow_record
from streams.silences import SilenceBook, SilencePolicy
from streams.titles import title_for
from streams.transitions import LaneRules

if TYPE_CHECKING:
    from ioc.settings import Settings

__all__ = [
    "CITY",
    "HEALTH",
    "OPEN",
    "AlertBook",
    "EscalationPolicy",
    "Verdict",
    "clean_evidence",
    "evidence_from",
    "lane_key",
    "split_alert_id",
    "title_for",
]

class AlertBook:
    """Open, update, escalate, acknowledge, silence and resolve alerts (see the module doc).

    ``store`` maps lane keys to msgpack bytes; ``resolve_after`` is the number of normal
    windows in a row that auto-resolve an alert (``IOC_RESOLVE_AFTER_WINDOWS``);
    ``flap_window_s`` how soon after its resolution a firing re-opens the same episode
    (:class:`~streams.transitions.LaneRules`). ``partitions`` (the events topics' partition
    count) places lanes whose partition is not known (see the module doc).
    """

    def __init__(self, store: MutableMapping[str, bytes], *, resolve_after: int = 3,
                 flap_window_s: float = 900.0, escalation: EscalationPolicy | None = None,
                 max_flap_boost: int = 3, silence_policy: SilencePolicy | None = None,
                 partitions: int | None = None) -> None:
        self.rules = LaneRules(resolve_after=resolve_after, flap_window_s=flap_window_s,
                               escalation=escalation, max_flap_boost=max_flap_boost)
        self.lanes = LaneStore(store, partitions)
        self.store = store
        self.silence_policy = silence_policy
        self.shadow: list[Alert] = []  # shadow detectors' records (streams.shadow), not lanes

    def take_shadow(self) -> list[Alert]:
        """The shadow records kept since the last call (for the shadow topic only)."""
        out, self.shadow = self.shadow, []
        return out

    @classmethod
    def from_settings(cls, store: MutableMapping[str, bytes], settings: Settings,
                      **kw: Any) -> AlertBook:
        """A book using ``IOC_RESOLVE_AFTER_WINDOWS``, ``IOC_FLAP_WINDOW_S``,
        ``IOC_ESCALATE_AFTER_S``, ``IOC_PARTITIONS`` and the silence policy
        (``IOC_MAX_SILENCE_S``, ``IOC_OPERATORS_MAY_SILENCE_BROADLY``); other options as
        keywords."""
        kw.setdefault("flap_window_s", settings.flap_window_s)
        kw.setdefault("silence_policy", SilencePolicy.from_settings(settings))
        kw.setdefault("escalation", EscalationPolicy(escalate_after_s=settings.escalate_after_s))
        kw.setdefault("partitions", settings.partitions)
        return cls(store, resolve_after=settings.resolve_after_windows, **kw)

    @property
    def resolve_after(self) -> int:
        return self.rules.resolve_after

    @property
    def partitions(self) -> int | None:
        return self.lanes.partitions

    # --- reading ---------------------------------------------------------------------------
    def get(self, aid: str) -> Alert | None:
        """The latest state of alert ``aid`` if it is its lane's current episode, else None."""
        found = self.lanes.find(aid)
        return None if found is None else found[1].alert

    def partition_of(self, aid: str) -> int | None:
        """The changelog partition of the lane holding alert ``aid`` (None: no such lane, or
        nowhere to place it)."""
        return self.lanes.partition_of(aid)

    def alerts(self, owns: Owns | None = None) -> Iterator[Alert]:
        """The current episode of every lane (open or resolved) whose source ``owns`` accepts
        (default: all), in store order."""
        for _, lane in self.lanes.each(owns):
            if lane.alert is not None:
                yield lane.alert

    def open_counts(self, owns: Owns | None = None) -> dict[tuple[str, str], int]:
        """Open alerts per (group, severity): the ``ioc_worker_open_alerts`` gauge."""
        counts: dict[tuple[str, str], int] = {}
        for a in self.alerts(owns):
            if a.status in OPEN:
                counts[(a.group, a.severity)] = counts.get((a.group, a.severity), 0) + 1
        return counts

    # --- inputs ----------------------------------------------------------------------------
    def observe(self, *, group: str, district: str, source: str, metric: str,
                verdicts: Sequence[Verdict], ts: float, silences: SilenceBook,
                partition: int | None = None) -> list[Alert]:
        """Apply the detectors' verdicts on one closed window of (source, metric).

        Pass every detector's verdict for the window in one call (health and city detectors
        alike; they are split into their lanes here), so hysteresis counts whole windows.
        ``ts`` is the decision time in stream time (normally the window end); ``partition``
        the partition the readings arrived on (the lanes are written there). Returns the
        records to publish, oldest first. Verdicts of shadow detectors never reach a lane:
        the firing ones are kept for :meth:`take_shadow`.
        """
        if any(v.shadow for v in verdicts):
            self.shadow += [shadow_record(group=group, district=district, source=source,
                                          metric=metric, verdict=v, ts=ts,
                                          escalation=self.rules.escalation)
                            for v in verdicts if v.shadow and v.firing]
            verdicts = [v for v in verdicts if not v.shadow]
        out: list[Alert] = []
        for category in LANES:
            vs = [v for v in verdicts if v.health == (category == HEALTH)]
            if vs:
                where = LaneAddress(group, district, source, metric, category)
                out += self._observe_lane(where, vs, ts, silences, partition)
        return out

    def _observe_lane(self, where: LaneAddress, vs: list[Verdict], ts: float,
                      silences: SilenceBook, partition: int | None) -> list[Alert]:
        key = where.key
        lane = self.lanes.load(key)
        if lane is None:
            if not any(v.firing for v in vs):
                return []           # a lane that never fired: nothing to remember
            lane = Lane()
        elif not lane.open and not any(v.firing for v in vs):
            return []               # closed lane, normal window: nothing changes
        if not lane.fresh(vs):
            return lane.replayed()  # applied already: nothing to write
        if partition is not None:
            lane.partition = partition
        out = self.rules.window(lane, where, vs, ts, silences)
        self.lanes.save(key, lane)
        return out

    def command(self, cmd: Command, *, now: float, silences: SilenceBook) -> list[Alert]:
        """Apply an operator command; ``now`` is the worker's stream clock.

        ``ack``: firing -> acknowledged (a silenced alert stays silenced and returns to
        acknowledged when the silence ends). ``resolve``: open -> resolved. ``note``: appends
        a note, status unchanged. A no-op (ack of an acknowledged or resolved alert, resolve of
        a resolved one) returns ``[]``. ``silence`` only stores the silence in ``silences``
        (after the book's :class:`~streams.silences.SilencePolicy`) and returns ``[]``: each
        matching open alert turns ``silenced`` at its lane's next window or :meth:`tick` (its
        owner may be another worker); ``unsilence`` lifts one the same way, its alerts turning
        ``unsilenced``. Raise :class:`~ioc.errors.ValidationError` for an alert_id this book
        does not hold, one superseded by a newer alert of its lane, a silence the policy
        refuses or an unknown silence_id (the caller logs or dead-letters it).
        """
        if cmd.action == "silence":
            if self.silence_policy is not None:
                self.silence_policy.check(cmd)
            silences.add(cmd)
            return []
        if cmd.action == "unsilence":
            silences.lift(cmd)
            return []
        assert cmd.alert_id is not None  # Command validates it
        found = self.lanes.find(cmd.alert_id)
        if found is None:
            raise ValidationError("alert_id", f"no alert {cmd.alert_id!r} on this worker")
        key, lane = found
        replayed = cmd.command_id in lane.applied
        out = apply_command(self.rules, lane, cmd, now, silences)
        if not replayed:
            self.lanes.save(key, lane)
        return out

    def tick(self, now: float, silences: SilenceBook, *,
             owns: Owns | None = None) -> list[Alert]:
        """Advance open alerts to ``now`` (stream clock): apply new and ended silences,
        escalate alerts still firing by duration. Ticking again at the same or an earlier
        time changes nothing unless the silences changed.

        Every window of a lane advances it too (empty windows close as well), so ticks only
        make silences and escalation land sooner than the next window. ``owns(source)``
        restricts the sweep to the lanes of some sources. Each lane changed is written to its
        own partition.
        """
        out: list[Alert] = []
        for key, lane in self.lanes.each(owns):
            if not lane.open:
                continue
            moved = now > lane.clock
            recs = self.rules.advance(lane, now, silences)
            if recs or moved:
                self.lanes.save(key, lane)
            out += recs
        return out
