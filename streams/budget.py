"""How many series sources outside the catalog may open on one worker.

Real cities add sensors faster than catalogs, so a reading of an unregistered source is
accepted and tracked like any other. But every new (source, metric) costs a series (detectors,
about 1.5 KB), so a flood of random source ids must not exhaust a worker's memory. A
:class:`SeriesBudget` (one per worker, shared by its partitions, pure) bounds the series of
unregistered sources three ways:

* at most ``total`` on the worker;
* at most ``per_prefix`` per group and source-id prefix (:func:`prefix_of`), so one flooding
  family of ids cannot take the whole budget from new sensors of other families;
* at most ``per_message`` new ones per message.

Catalog sources never count against it. The windows ask :meth:`SeriesBudget.admit` only the
first time they see an untracked key, so it costs nothing on the hot path.

>>> b = SeriesBudget(total=3, per_prefix=2, per_message=10)
>>> [b.admit("flooding", "rain-HC-01", 0), b.admit("flooding", "x-01", 0)]
[True, True]
>>> [b.admit("flooding", "x-02", 1), b.admit("flooding", "x-03", 2)]   # prefix 'x' is full
[True, False]
>>> b.reason   # why the last one was refused
"source-id prefix 'x' already opened 2 series in group 'flooding' (IOC_MAX_SERIES_PER_PREFIX)"
>>> b.counts()
{'flooding': 2}
>>> b.release("flooding", "x-01"); b.counts()
{'flooding': 1}
"""

from __future__ import annotations

from ioc import catalog

__all__ = ["SeriesBudget", "prefix_of"]

_DIGITS = "0123456789"


def prefix_of(source: str) -> str:
    """The family of a source id: without its trailing digits, then up to its last ``-``.

    >>> prefix_of("rain-HC-01"), prefix_of("trf-B00042"), prefix_of("sensor42"), prefix_of("7")
    ('rain-HC', 'trf', 'sensor', '')
    """
    head = source.rstrip(_DIGITS)
    cut = head.rfind("-")
    return head[:cut] if cut >= 0 else head


class SeriesBudget:
    """Counts of unregistered series per group and prefix, with the bounds."""

    __slots__ = ("by_prefix", "per_group", "per_message", "per_prefix", "reason", "registered",
                 "total", "used")

    def __init__(self, *, total: int = 200_000, per_prefix: int = 10_000,
                 per_message: int = 1_000) -> None:
        self.total = total
        self.per_prefix = per_prefix
        self.per_message = per_message
        self.registered = {g: frozenset(s.id for s in catalog.group(g).sources())
                           for g in catalog.GROUPS}
        self.by_prefix: dict[tuple[str, str], int] = {}
        self.per_group: dict[str, int] = {}
        self.used = 0
        self.reason = ""

    def is_registered(self, group: str, source: str) -> bool:
        """True for a source of the catalog."""
        ids = self.registered.get(group)
        return ids is not None and source in ids

    def admit(self, group: str, source: str, opened_in_message: int) -> bool:
        """May ``source`` open one more series (the message opened ``opened_in_message``
        already)? Counts it when yes; sets :attr:`reason` when no."""
        if self.is_registered(group, source):
            return True
        if opened_in_message >= self.per_message:
            self.reason = (f"one message may open at most {self.per_message} series of "
                           f"unregistered sources (IOC_MAX_NEW_SERIES_PER_MESSAGE)")
            return False
        if self.used >= self.total:
            self.reason = (f"the worker already tracks {self.used} series of unregistered "
                           f"sources (IOC_MAX_UNREGISTERED_SERIES)")
            return False
        key = (group, prefix_of(source))
        n = self.by_prefix.get(key, 0)
        if n >= self.per_prefix:
            self.reason = (f"source-id prefix {key[1]!r} already opened {n} series in group "
                           f"{group!r} (IOC_MAX_SERIES_PER_PREFIX)")
            return False
        self.by_prefix[key] = n + 1
        self.per_group[group] = self.per_group.get(group, 0) + 1
        self.used += 1
        return True

    def count(self, group: str, source: str) -> None:
        """Count a series restored from a checkpoint (never refused: it existed)."""
        if self.is_registered(group, source):
            return
        key = (group, prefix_of(source))
        self.by_prefix[key] = self.by_prefix.get(key, 0) + 1
        self.per_group[group] = self.per_group.get(group, 0) + 1
        self.used += 1

    def release(self, group: str, source: str) -> None:
        """A series of ``source`` is gone (evicted, revoked, or never opened)."""
        if self.is_registered(group, source):
            return
        key = (group, prefix_of(source))
        n = self.by_prefix.get(key, 0)
        if n <= 0:
            return
        if n == 1:
            del self.by_prefix[key]
        else:
            self.by_prefix[key] = n - 1
        left = self.per_group.get(group, 0) - 1
        if left > 0:
            self.per_group[group] = left
        else:
            self.per_group.pop(group, None)
        self.used -= 1

    def counts(self) -> dict[str, int]:
        """Unregistered series per group (the gauge)."""
        return dict(self.per_group)
