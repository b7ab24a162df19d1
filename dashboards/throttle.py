"""Sign-in throttling: failures counted per key (a login, a client address) over a sliding
span; a key with ``limit`` failures in the span is refused until its oldest failure ages
out. Pure bookkeeping, no clock of its own and no I/O.

>>> t = Throttle(limit=2, span_s=60.0)
>>> t.fail("lan", now=0.0); t.fail("lan", now=10.0)
>>> t.retry_after("lan", now=30.0), t.retry_after("lan", now=61.0), t.retry_after("hoa", 30.0)
(30.0, 0.0, 0.0)
"""

from __future__ import annotations

from collections import OrderedDict, deque


class Throttle:
    """At most ``limit`` failures per key within ``span_s``; ``max_keys`` bounds the memory
    (the keys failing longest ago are forgotten first)."""

    def __init__(self, *, limit: int, span_s: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.span_s = span_s
        self.max_keys = max_keys
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        fails = self._fails.get(key)
        if fails is None:
            return None
        while fails and fails[0] <= now - self.span_s:
            fails.popleft()
        if not fails:
            del self._fails[key]
            return None
        return fails

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        fails = self._recent(key, now)
        if fails is None or len(fails) < self.limit:
            return 0.0
        return fails[-self.limit] + self.span_s - now

    def fail(self, key: str, now: float) -> None:
        """Count a failure of ``key``."""
        fails = self._recent(key, now)
        if fails is None:
            fails = self._fails[key] = deque(maxlen=self.limit)
        fails.append(now)
        self._fails.move_to_end(key)
        while len(self._fails) > self.max_keys:
            self._fails.popitem(last=False)

    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (a successful sign-in)."""
        self._fails.pop(key, None)
