"""What ``POST /api/v1/readings`` decides before anything is produced: which items of a body
are readings, which are refused and why, and whether a key may post this much now. Pure.

>>> b = parse_body(b'[{"group":"flooding","source":"s1","metric":"rainfall","value":1,'
...                b'"ts":1795410000,"district":"Hai Chau"},{"group":"flooding"}]')
>>> [r.source for _, r in b.readings], [(i, f) for i, f, _ in b.errors]
(['s1'], [(1, 'source')])
>>> parse_body(b"nope")
Traceback (most recent call last):
...
ioc.errors.ValidationError: $: not JSON: expected a reading (object) or a batch (array)
>>> bucket = TokenBucket(rate=10, burst=20, now=0.0)
>>> bucket.take(15, now=0.0), bucket.take(10, now=0.0), bucket.retry_after(10)
(True, False, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ioc.errors import ValidationError
from ioc.events import MAX_PACK, Reading

_any = msgspec.json.Decoder()
_reading = msgspec.json.Decoder(Reading)
_readings = msgspec.json.Decoder(list[Reading])


@dataclass
class Batch:
    """The readings of a body, each with its index, and the refused items."""

    readings: list[tuple[int, Reading]] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (index, field, reason)
    size: int = 0


def _item(i: int, item: Any, batch: Batch) -> None:
    try:
        batch.readings.append((i, msgspec.convert(item, Reading, strict=False)
                               if not isinstance(item, Reading) else item))
    except ValidationError as exc:
        batch.errors.append((i, exc.field, exc.reason))
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = text.rsplit(" - at `", 1)
        path = where[1].rstrip("`").removeprefix("$.") if len(where) == 2 else "$"
        reason = where[0]
        if reason.startswith("Object missing required field"):
            path = reason.split("`")[1]
        batch.errors.append((i, path, reason))


def parse_body(raw: bytes) -> Batch:
    """The batch of a body: a reading (an object) or a batch (an array; whether it is too
    long is :func:`max_batch`'s to say). ValidationError for a body that is neither (400)."""
    batch = Batch()
    stripped = raw.lstrip()[:1]
    try:
        if stripped == b"[":
            try:  # the common case: every item valid, one pass
                batch.readings = list(enumerate(_readings.decode(raw)))
                batch.size = len(batch.readings)
            except (ValidationError, msgspec.ValidationError):
                items = _any.decode(raw)
                batch.size = len(items)
                for i, item in enumerate(items):
                    _item(i, item, batch)
            if batch.size == 0:
                raise ValidationError("$", "an empty batch")
            return batch
        if stripped == b"{":
            batch.size = 1
            try:
                batch.readings.append((0, _reading.decode(raw)))
            except (ValidationError, msgspec.ValidationError):
                _item(0, _any.decode(raw), batch)
            return batch
    except msgspec.DecodeError as exc:
        raise ValidationError("$", f"not JSON: {str(exc)[:120]}") from None
    raise ValidationError("$", "not JSON: expected a reading (object) or a batch (array)")


def max_batch(burst: int) -> int:
    """The most readings one request may carry: the event contract's
    :data:`~ioc.events.MAX_PACK`, or less when a key's bucket (``IOC_INGEST_BURST``) holds
    fewer, since a batch the bucket can never pay for would be refused (429) forever.

    >>> max_batch(20_000), max_batch(500)
    (10000, 500)
    """
    return min(MAX_PACK, burst)


def too_long(size: int, burst: int) -> str | None:
    """Why a batch of ``size`` readings is refused whatever the rate (413), or None.

    >>> too_long(501, burst=500)  # doctest: +ELLIPSIS
    'a batch of 501 readings is over the limit of 500 per request (IOC_INGEST_BURST, ...'
    >>> too_long(500, burst=500) is None
    True
    """
    limit = max_batch(burst)
    if size <= limit:
        return None
    why = "IOC_INGEST_BURST, the most a key may post at once" if burst < MAX_PACK else \
        "the event contract's largest pack"
    return f"a batch of {size} readings is over the limit of {limit} per request ({why}): " \
        "split it"


class TokenBucket:
    """``rate`` readings a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def take(self, n: float, now: float) -> bool:
        """Spend ``n`` tokens if there are that many (refilled up to ``now``)."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if n > self.tokens:
            return False
        self.tokens -= n
        return True

    def retry_after(self, n: float) -> int:
        """Whole seconds until ``n`` tokens are there (at least 1)."""
        need = min(n, self.burst) - self.tokens
        return max(1, math.ceil(need / self.rate))
