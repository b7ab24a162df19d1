"""Detector classes that each break the contract in one way (for the registry and checks tests)."""

from __future__ import annotations

from detectors.base import Detector


class Good(Detector):
    """A well-behaved detector: scores 1 above ``limit``."""

    name = "good"
    version = "1"

    def __init__(self, *, limit: float = 100.0) -> None:
        super().__init__()
        self.limit = limit

    def score_one(self, x: float, ts: float) -> float:
        s = 1.0 if isinstance(x, float | int) and x > self.limit else 0.0
        return self._scored(s, raw=s, baseline=self.limit)

    def learn_one(self, x: float, ts: float) -> None:
        pass


class NotADetector:
    name = "not_a_detector"
    version = "1"


class Abstract(Detector):  # no learn_one
    name = "abstract"
    version = "1"

    def score_one(self, x: float, ts: float) -> float:
        return 0.0


class Misnamed(Good):
    name = "something_else"


class NoVersion(Good):
    name = "no_version"
    version = ""


class NeedsParam(Good):
    name = "needs_param"

    def __init__(self, *, limit: float) -> None:
        super().__init__(limit=limit)


class Positional(Good):
    name = "positional"

    def __init__(self, limit: float = 1.0) -> None:
        super().__init__(limit=limit)


class OutOfRange(Good):
    name = "out_of_range"

    def score_one(self, x: float, ts: float) -> float:
        return 1.5


class CrashesOnNan(Good):
    name = "crashes_on_nan"

    def score_one(self, x: float, ts: float) -> float:
        if x != x:
            raise ValueError("nan!")
        return super().score_one(x, ts)


class ForgetsState(Detector):
    """Learns a running max but does not declare it in state_attrs."""

    name = "forgets_state"
    version = "1"

    def __init__(self) -> None:
        super().__init__()
        self.top = 0.0

    def score_one(self, x: float, ts: float) -> float:
        s = 1.0 if isinstance(x, float) and x > self.top else 0.0
        return self._scored(s, raw=s, baseline=self.top)

    def learn_one(self, x: float, ts: float) -> None:
        if isinstance(x, float) and x == x:
            self.top = max(self.top, x)


class Impure(Good):
    """Learns while scoring: breaks score-before-learn."""

    name = "impure"
    state_attrs = ("limit",)

    def score_one(self, x: float, ts: float) -> float:
        s = super().score_one(x, ts)
        if isinstance(x, float) and x == x:
            self.limit = max(self.limit, x)
        return s


class GoodTwin(Good):
    """Claims the name "good" too (from another module path)."""


class BatchDrifts(Good):
    """Its batch form scores a hair higher than the one-series form: breaks batch = one."""

    name = "batch_drifts"

    def columns(self):  # type: ignore[no-untyped-def]
        import numpy as np

        from detectors.columns import LoopColumns

        class Drifting(LoopColumns):
            def score_many(self, rows, w):  # type: ignore[no-untyped-def]
                return np.minimum(super().score_many(rows, w) + 1e-12, 1.0)

            def update_many(self, rows, w):  # type: ignore[no-untyped-def]
                s = self.score_many(rows, w)
                self.learn_many(rows, w)
                return s

        return Drifting(self)
