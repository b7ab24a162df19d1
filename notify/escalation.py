"""Escalation chains as a pure state machine: a route's steps ("the district operator; if not
acknowledged in 10 min, the district leader; then the city duty officer") run for one alert
episode, from when the notifier first saw it firing, and stop on its ack or resolution.

>>> from notify.config import Route, Step
>>> route = Route("r", escalation=(Step(0, ("op",)), Step(600, ("leader",)),
...                                Step(1200, ("duty",))))
>>> c = start(route, "a", first_seen=100.0, now=1000.0)
>>> [(s, route.escalation[s].receivers) for s in due_steps(c, route, now=1000.0)]
[(0, ('op',))]
>>> due_steps(c, route, now=1500.0), c.next_at
([], 1600.0)
>>> stop_reason(c, "acknowledged", first_seen=100.0)
'acknowledged'
>>> c.next_at is None and due_steps(c, route, now=9999.0) == []
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from notify.config import Route

__all__ = ["Chain", "chain_key", "due_steps", "start", "stop_reason"]

STOPS = ("acknowledged", "resolved")


@dataclass
class Chain:
    key: str
    route: str
    alert_id: str
    first_seen: float
    started: float
    step: int = 0              # the next step to run
    next_at: float | None = None
    stop: str | None = None     # acknowledged, resolved, done


def chain_key(route: str, alert_id: str, first_seen: float) -> str:
    """One chain per route and alert episode (an episode: one ``first_seen``)."""
    raw = f"{route}\x00{alert_id}\x00{first_seen!r}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def start(route: Route, alert_id: str, *, first_seen: float, now: float) -> Chain:
    """A new chain, its first step due ``after`` it from ``now``."""
    first = route.escalation[0].after if route.escalation else 0.0
    return Chain(chain_key(route.name, alert_id, first_seen), route.name, alert_id,
                 first_seen, now, next_at=now + first if route.escalation else None)


def stop_reason(chain: Chain, status: str, *, first_seen: float) -> str | None:
    """Stop the chain when its episode was acknowledged or resolved; the reason, or None
    (still running, or already stopped)."""
    if chain.stop is not None or first_seen != chain.first_seen or status not in STOPS:
        return None
    chain.stop, chain.next_at = status, None
    return status


def due_steps(chain: Chain, route: Route, now: float) -> list[int]:
    """The steps due at ``now`` (several when the notifier was away), the chain advanced."""
    out = []
    steps = route.escalation
    while chain.stop is None and chain.next_at is not None and chain.next_at <= now:
        out.append(chain.step)
        chain.step += 1
        if chain.step < len(steps):
            chain.next_at = chain.started + steps[chain.step].after
        else:
            chain.next_at, chain.stop = None, "done"
    return out
