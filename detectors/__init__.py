"""Anomaly detectors: pure, synchronous, plugin-facing (imports only ``ioc``).

- :mod:`detectors.base`: the contract (``Detector``, ``VectorDetector``, ``Explanation``);
  scores are floats in [0, 1], higher is more anomalous, computed before learning from the
  value. Its helpers have rooms of their own, all importable from ``base``:
  :mod:`~detectors.squash` (score mappings), :mod:`~detectors.state` (state bytes),
  :mod:`~detectors.windows` (``WindowStats``, ``WindowColumns``).
- :mod:`detectors.columns`: the batch form (:mod:`~detectors.batch` the contract and its loop
  form, :mod:`~detectors.rows` the numpy storage).
- :mod:`detectors.policies`: the separate yes/no decision (threshold, rolling quantile,
  hysteresis, minimum duration).
- One family per module: :mod:`~detectors.rules`, :mod:`~detectors.statistical`,
  :mod:`~detectors.changepoint`, :mod:`~detectors.seasonal`, :mod:`~detectors.health` (its
  batch forms in :mod:`~detectors.health_columns`), :mod:`~detectors.counts`,
  :mod:`~detectors.forest`, :mod:`~detectors.adaptive` (what it remembers in
  :mod:`~detectors.novelty_memory`).
- :mod:`detectors.registry`: discovery through the ``ioc.detectors`` entry points.
- :mod:`detectors.checks`: the public conformance suite (by what they check:
  :mod:`~detectors.checks_contract`, :mod:`~detectors.checks_batch`,
  :mod:`~detectors.checks_resources`).
- Offline tooling: :mod:`~detectors.backtest` (with :mod:`~detectors.key_windows`),
  :mod:`~detectors.evaluation` (with :mod:`~detectors.corpus` and :mod:`~detectors.nab`, whose
  profiles and per-row worth are in :mod:`~detectors.nab_profiles` and
  :mod:`~detectors.nab_windows`).
"""
