"""The durable outbox: every delivery is a row keyed by its idempotency key, written in the
same transaction as the decision that made it, and sent until it succeeds or fails for good.

* planning twice (a replayed record, a restarted notifier) inserts nothing: the key exists;
* a dispatcher *claims* due rows for ``hold`` seconds, sends them, then records the outcome;
  a dispatcher killed in between leaves its claims to expire, and the rows are sent again
  **with the same key** (the ``Idempotency-Key`` header, the email's ``Message-ID``), which
  receivers use to drop the repeat;
* a temporary failure is retried after :func:`backoff` (exponential, with jitter); a
  permanent one, or the last attempt, marks the row ``failed`` with its reason: it never
  blocks the rows behind it.

>>> backoff(1, base=2.0, cap=600.0, jitter=0.0), backoff(4, base=2.0, cap=600.0, jitter=0.0)
(1.0, 8.0)
>>> backoff(20, base=2.0, cap=600.0, jitter=1.0)
600.0
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive import schema
from archive.store import Store, Unavailable

__all__ = ["Outcome", "Row", "backoff", "claim", "encode_message", "finish", "idempotency_key",
           "insert_rows", "queue_stats"]


def idempotency_key(*parts: object) -> str:
    """A stable key of what a delivery is (the same decision always makes the same key).

    >>> idempotency_key("group", "abc", 1, "desk", "email")[:12]
    '4901f1d492b7'
    """
    raw = "\x00".join(str(p) for p in parts)
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def backoff(attempt: int, *, base: float, cap: float, jitter: float) -> float:
    """Seconds before retry ``attempt`` (1 after the first failure): ``base * 2**(attempt-1)``
    capped at ``cap``, then scaled into [50 %, 100 %] by ``jitter`` in [0, 1] (equal
    jitter: retries of many rows spread out, none waits less than half)."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * (0.5 + 0.5 * jitter)


_PAYLOAD = b'{"payload":'


def encode_message(message: dict[str, Any]) -> bytes:
    """A rendered message as stored in the outbox: compact JSON, UTF-8. A webhook's is
    ``{"payload":<the body to send>}``, so :attr:`Row.body` is a slice of it."""
    return msgspec.json.encode(message)


@dataclass(frozen=True)
class Row:
    """A claimed delivery; ``encoded`` is its message as stored (:func:`encode_message`)."""

    key: str
    kind: str
    route: str
    step: int | None
    alert_id: str | None
    receiver: str
    channel: str
    address: str
    encoded: bytes
    attempts: int
    created_at: float
    record_ts: float

    @cached_property
    def message(self) -> dict[str, Any]:
        """The message, decoded (when a channel needs its parts)."""
        got: dict[str, Any] = msgspec.json.decode(self.encoded)
        return got

    @property
    def body(self) -> bytes:
        """A webhook's body: the stored payload's bytes as they are (encoded once, when
        planned; a repeat sends the very same bytes)."""
        if self.encoded.startswith(_PAYLOAD) and self.encoded.endswith(b"}"):
            return self.encoded[len(_PAYLOAD):-1]
        return msgspec.json.encode(self.message["payload"])  # a row stored otherwise


@dataclass(frozen=True)
class Outcome:
    """How one send went: ``ok``, ``temporary`` or ``permanent`` (with the reason)."""

    result: str
    reason: str = ""


@contextlib.contextmanager
def _reached() -> Iterator[None]:
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise Unavailable(str(exc).splitlines()[0]) from None


def insert_rows(store: Store, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert planned deliveries; a key already there is left alone. Returns rows inserted."""
    if not rows:
        return 0
    t = schema.notify_outbox
    done = conn.execute(store._insert(t).on_conflict_do_nothing(index_elements=[t.c.key]),
                        [{**r, "message": encode_message(r["message"]).decode()}
                         for r in rows])
    return max(0, int(done.rowcount or 0))


_t = schema.notify_outbox
# the hot statements, built once (building and keying them per call cost as much as running
# them on SQLite)
_DUE = (sa.select(_t.c.key)
        .where((_t.c.status == "pending") & (_t.c.next_attempt_at <= sa.bindparam("now"))
               & (_t.c.claimed_until <= sa.bindparam("now")))
        .order_by(_t.c.next_attempt_at).limit(sa.bindparam("limit")))
# status || '': found by key, not through the status index (with ten keys or more SQLite
# chose that index and scanned every pending row for each claim)
_CLAIM = (_t.update()
          .where(_t.c.key.in_(sa.bindparam("keys", expanding=True))
                 & (_t.c.claimed_until <= sa.bindparam("now"))
                 & (_t.c.status.concat("") == "pending"))
          .values(claimed_until=sa.bindparam("until"))
          .returning(_t.c.key, _t.c.kind, _t.c.route, _t.c.step, _t.c.alert_id, _t.c.receiver,
                     _t.c.channel, _t.c.address, _t.c.message, _t.c.attempts,
                     _t.c.created_at, _t.c.record_ts))
_SENT = (_t.update().where(_t.c.key.in_(sa.bindparam("keys", expanding=True)))
         .values(claimed_until=0.0, status="sent", attempts=_t.c.attempts + 1,
                 sent_at=sa.bindparam("at")))


def claim(store: Store, now: float, *, limit: int, hold: float) -> list[Row]:
    """Claim up to ``limit`` due rows for ``hold`` seconds (rows another dispatcher holds are
    skipped)."""
    with _reached(), store.engine.begin() as conn:
        keys = [r[0] for r in conn.execute(_DUE, {"now": now, "limit": limit})]
        if not keys:
            return []
        got = conn.execute(_CLAIM, {"keys": keys, "now": now, "until": now + hold})
        return [Row(key, kind, route, step, alert_id, receiver, channel, address,
                    message.encode(), attempts, created_at, record_ts)
                for (key, kind, route, step, alert_id, receiver, channel, address, message,
                     attempts, created_at, record_ts) in got]


def finish(store: Store, done: Sequence[tuple[Row, Outcome, float]], *, now: float,
           max_attempts: int, give_up_after: float, base: float, cap: float,
           jitter: Sequence[float]) -> dict[str, list[tuple[Row, str]]]:
    """Record outcomes (``(row, outcome, defer)``: ``defer`` > 0 puts a rate-limited row back
    without counting an attempt). Returns the rows per result: sent, retried, failed."""
    t = schema.notify_outbox
    out: dict[str, list[tuple[Row, str]]] = {"sent": [], "retried": [], "failed": [],
                                             "deferred": []}
    params: dict[str, list[dict[str, Any]]] = {k: [] for k in out}
    for n, (row, outcome, defer) in enumerate(done):
        attempts = row.attempts + 1
        if defer > 0:
            out["deferred"].append((row, ""))
            params["deferred"].append({"k": row.key, "next_attempt_at": now + defer})
        elif outcome.result == "ok":
            out["sent"].append((row, ""))
        elif outcome.result == "temporary" and attempts < max_attempts and \
                now - row.created_at < give_up_after:
            wait = backoff(attempts, base=base, cap=cap, jitter=jitter[n % len(jitter)])
            out["retried"].append((row, outcome.reason))
            params["retried"].append({"k": row.key, "attempts": attempts,
                                      "next_attempt_at": now + wait,
                                      "reason": outcome.reason[:2000]})
        else:
            reason = outcome.reason if outcome.result == "permanent" else \
                f"gave up after {attempts} attempts: {outcome.reason}"
            out["failed"].append((row, reason))
            params["failed"].append({"k": row.key, "attempts": attempts,
                                     "reason": reason[:2000]})
    values: dict[str, dict[str, Any]] = {
        "deferred": {"next_attempt_at": sa.bindparam("next_attempt_at")},
        "retried": {"attempts": sa.bindparam("attempts"), "reason": sa.bindparam("reason"),
                    "next_attempt_at": sa.bindparam("next_attempt_at")},
        "failed": {"status": "failed", "attempts": sa.bindparam("attempts"),
                   "reason": sa.bindparam("reason")}}
    sent = [row.key for row, _ in out["sent"]]
    with _reached(), store.engine.begin() as conn:
        for at in range(0, len(sent), 500):  # the common case: one statement per 500
            conn.execute(_SENT, {"keys": sent[at:at + 500], "at": now})
        for kind, rows in params.items():
            if rows:
                conn.execute(t.update().where(t.c.key == sa.bindparam("k"))
                             .values(claimed_until=0.0, **values[kind]), rows)
    return out


def queue_stats(store: Store, now: float) -> tuple[int, float]:
    """Pending rows and the age in seconds of the oldest (0 when none)."""
    t = schema.notify_outbox
    with _reached(), store.connect() as conn:
        n, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(t.c.created_at))
                                 .where(t.c.status == "pending")).one()
    return int(n), (now - oldest) if oldest is not None else 0.0
