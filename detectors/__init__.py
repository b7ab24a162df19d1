"""Anomaly detectors: pure, synchronous, plugin-facing (imports only ``ioc``).

- :mod:`detectors.base`: the contract (``Detector``, ``VectorDetector``, ``WindowStats``,
  ``Explanation``); scores are floats in [0, 1], higher is more anomalous, computed before
  learning from the value.
- :mod:`detectors.policies`: the separate yes/no decision (threshold, rolling quantile,
  hysteresis, minimum duration).
- One family per module: :mod:`~detectors.rules`, :mod:`~detectors.statistical`,
  :mod:`~detectors.changepoint`, :mod:`~detectors.seasonal`, :mod:`~detectors.health`,
  :mod:`~detectors.counts`, :mod:`~detectors.forest`.
- :mod:`detectors.registry`: discovery through the ``ioc.detectors`` entry points.
- :mod:`detectors.checks`: the public conformance suite.
"""
