"""The reading contract: one sensor reading or counted service event on ``ioc.<group>.events``.

A reading is a measured ``value`` **or** a counted event ``kind``, never both; it is checked
against the catalog as it is made (:mod:`ioc.validate` holds the checks). Decode it with
:func:`ioc.codec.decode_readings`; :mod:`ioc.events` re-exports both.

>>> Reading(group="flooding", source="rain-HC-01", metric="rainfall", value=12.5,
...         ts="2026-11-23T05:00:00Z", district="Hai Chau").ts
1795410000.0
"""

from __future__ import annotations

import msgspec
from msgspec.structs import force_setattr

from ioc.validate import (
    KNOWN_SOURCES,
    MAX_TS,
    MIN_TS,
    check_position,
    check_value_kind,
    parse_ts,
    reading_counted,
)

__all__ = ["AttrValue", "Reading"]

AttrValue = str | int | float | bool


class Reading(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
              omit_defaults=True, gc=False):
    """One sensor reading or one counted service event.

    ``ts`` may arrive as epoch seconds or RFC 3339; it is always epoch seconds once decoded.
    Not tracked by the cycle collector (``gc=False``): its fields are strings, numbers and a
    dict of scalars, which cannot form a cycle, and a worker makes millions of them.
    """

    group: str
    source: str
    metric: str
    ts: float | str
    district: str
    value: float | None = None
    kind: str | None = None
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    attrs: dict[str, AttrValue] | None = None

    def __post_init__(self) -> None:
        # Runs once per decoded reading, so the common case is look-ups and comparisons
        # inline; on a miss the helpers redo the checks in order and raise the exact error.
        try:
            group, district, metrics = KNOWN_SOURCES[self.source]
            counted = metrics[self.metric] if (
                group == self.group and district == self.district) else None
        except (KeyError, TypeError):
            counted = None
        if counted is None:
            counted = reading_counted(self.group, self.metric, self.source, self.district)
        value = self.value  # below, value - value is 0.0 unless value is inf or nan
        if counted or self.kind is not None or value is None or value - value != 0.0:
            check_value_kind(self.group, self.metric, value, self.kind)
        lat, lon = self.lat, self.lon
        if (lat is not None and not -90.0 <= lat <= 90.0) or (
                lon is not None and not -180.0 <= lon <= 180.0):
            check_position(lat, lon)
        ts = self.ts
        if (ts.__class__ is not float and not isinstance(ts, float)) or not (
                MIN_TS <= ts <= MAX_TS):
            force_setattr(self, "ts", parse_ts("ts", ts))

    @property
    def epoch(self) -> float:
        """``ts`` as epoch seconds (always a float after decoding)."""
        return self.ts  # type: ignore[return-value]

    @property
    def counted(self) -> bool:
        """True for a counted service event."""
        return self.kind is not None
