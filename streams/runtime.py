"""The detector runtime: which detectors and policies run for each (group, metric).

By default every metric runs the detectors the catalog names for it (``MetricSpec.detectors``,
built with their defaults, or from the metric's limits for the static threshold and the
physical range; the stuck and silence thresholds follow the metric's cadence, see
:func:`catalog_params`) under the policy ``Threshold(0.9)`` (0.9 is where every family's
score sits at the detector's own threshold). A TOML file named by ``IOC_DETECTORS_CONFIG``
changes that::

    [policy]                      # default policy of every detector
    threshold = 0.9               # or quantile = 0.99, window = 200, floor = 0.5
    fire_after = 1                # optional gates: Hysteresis(fire_after, clear_after)
    clear_after = 1
    min_duration_s = 0            # MinDuration(seconds)

    [params.robust_z]             # parameters of a detector wherever it runs
    threshold = 4.5

    [groups.traffic.speed]        # one metric of a group; "*" means every metric of it
    detectors = ["robust_z", "threshold"]   # replaces the catalog's list ...
    add = ["ewma"]                # ... or add to it / remove from it
    remove = ["stuck"]
    policy = { threshold = 0.95 } # this metric's policy (whole table, replaces the default)
    params.robust_z = { window = 64 }
    readings = ["physical_range"] # these also score every single reading, not only windows
    direction = "both"            # alert on both sides (default: the catalog's harmful side)
    shadow = ["ewma"]             # score live, record would-be alerts on ioc.shadow only

Anything wrong in the file (unknown group, metric, detector or key, bad parameter) is a
:class:`~ioc.errors.ConfigError` naming the file and the place, raised when the worker starts.

Detectors without state (``state_attrs == ()`` and no own ``get_state``: the static threshold,
the physical range) and plain ``Threshold`` policies are shared by every series of a metric, so
a tracked series only pays for the state it really has.

>>> rt = DetectorRuntime.build()
>>> plan = rt.plan("flooding", "flood_depth")
>>> [(d.name, d.health, d.shared) for d in plan.detectors]  # doctest: +NORMALIZE_WHITESPACE
[('robust_z', False, False), ('physical_range', True, True), ('stuck', True, False),
 ('threshold', False, True), ('cusum', False, False), ('silence', True, False)]
>>> rt2 = DetectorRuntime.build(config_text='''
... [groups.flooding.flood_depth]
... remove = ["cusum"]
... policy = { threshold = 0.95, fire_after = 2 }
... ''')
>>> p = rt2.plan("flooding", "flood_depth")
>>> [d.name for d in p.detectors]
['robust_z', 'physical_range', 'stuck', 'threshold', 'silence']
>>> p.detectors[0].policy
Threshold(t=0.95) | Hysteresis(fire_after=2, clear_after=1)
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from detectors.base import Detector, VectorDetector
from detectors.policies import Hysteresis, MinDuration, Policy, RollingQuantile, Threshold
from ioc import catalog
from ioc.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from detectors.registry import Registry
    from ioc.settings import Settings

__all__ = ["DEFAULT_POLICY", "DetectorPlan", "DetectorRuntime", "MetricPlan", "build_policy",
           "catalog_params"]

DEFAULT_POLICY: dict[str, Any] = {"threshold": 0.9}
_POLICY_KEYS = {"threshold", "quantile", "window", "floor", "fire_after", "clear_after",
                "min_duration_s"}
_METRIC_KEYS = {"detectors", "add", "remove", "policy", "params", "readings", "direction",
                "shadow"}
_TOP_KEYS = {"policy", "params", "groups"}


def build_policy(spec: Mapping[str, Any], where: str = "policy") -> Policy:
    """A policy from its table: a trigger (``threshold`` or ``quantile``) and optional gates.

    >>> build_policy({"quantile": 0.99, "window": 100, "min_duration_s": 120})
    RollingQuantile(q=0.99, window=100, floor=0.5) | MinDuration(seconds=120.0)
    >>> build_policy({"threshold": 2})
    Traceback (most recent call last):
    ...
    ioc.errors.ConfigError: policy: Threshold: t must be in [0, 1], got 2.0
    """
    unknown = set(spec) - _POLICY_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} "
                          f"(use {', '.join(sorted(_POLICY_KEYS))})")
    try:
        if "quantile" in spec:
            if "threshold" in spec:
                raise ValueError("give either threshold or quantile, not both")
            trigger: Policy = RollingQuantile(
                float(spec["quantile"]), window=int(spec.get("window", 200)),
                floor=float(spec.get("floor", 0.5)))
        else:
            extra = {"window", "floor"} & set(spec)
            if extra:
                raise ValueError(f"{sorted(extra)} only go with quantile")
            trigger = Threshold(float(spec.get("threshold", DEFAULT_POLICY["threshold"])))
        policy: Policy = trigger
        if "fire_after" in spec or "clear_after" in spec:
            policy = policy | Hysteresis(int(spec.get("fire_after", 1)),
                                         int(spec.get("clear_after", 1)))
        if spec.get("min_duration_s"):
            policy = policy | MinDuration(float(spec["min_duration_s"]))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return policy


def catalog_params(group: str, spec: catalog.MetricSpec) -> dict[str, dict[str, Any]]:
    """Detector parameters the worker derives from the catalog (a config file overrides them).

    The stuck detector alerts after two windows of identical readings (at least 6) rather
    than a fixed count, so a flatline is reported within two windows whatever the cadence;
    the silence detector alerts at a surprise of 10^-4.5 (``threshold`` 4.5): a source sending six
    readings a window is reported at its second empty window.

    >>> catalog_params("flooding", catalog.group("flooding").metric("flood_depth"))
    {'stuck': {'threshold': 12.0}, 'silence': {'threshold': 4.5}}
    >>> catalog_params("environment", catalog.group("environment").metric("ph"))["stuck"]
    {'threshold': 6.0}
    """
    out: dict[str, dict[str, Any]] = {}
    g = catalog.group(group)
    if catalog.STUCK in spec.detectors:
        cadence = catalog.source_kind_of(group, spec.name).cadence_s
        out[catalog.STUCK] = {"threshold": float(max(6, round(2 * g.window_s / cadence)))}
    if catalog.SILENCE in spec.detectors:
        out[catalog.SILENCE] = {"threshold": 4.5}
    return out


def _stateless(cls: type[Detector]) -> bool:
    return not cls.state_attrs and cls.get_state is Detector.get_state


@dataclass(frozen=True, slots=True)
class DetectorPlan:
    """One detector of a metric: its prototype, policy and how it is fed."""

    name: str
    version: str
    params: dict[str, Any]
    proto: Detector
    policy: Policy
    health: bool
    shared: bool          # stateless: one instance serves every series
    policy_shared: bool   # a plain Threshold: stateless, no per-series state to keep
    per_reading: bool = False
    shadow: bool = False  # scores live; its alerts go to the shadow topic, never to operators

    def instance(self) -> Detector:
        """The detector a new series uses (the prototype itself when shared).

        Built from the cached parameters (``Detector.clone`` inspects the signature each
        time, which costs more than the detector itself when 100,000 series start)."""
        if self.shared:
            return self.proto
        try:
            return type(self.proto)(**self.params)
        except (TypeError, ValueError):
            return self.proto.clone()


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """The detectors of one (group, metric)."""

    group: str
    metric: str
    spec: catalog.MetricSpec
    detectors: tuple[DetectorPlan, ...]
    kind: Literal["measure", "count"] = "measure"
    reading_indexes: tuple[int, ...] = field(default=())
    direction: catalog.Direction = "both"  # the side city detectors alert on

    @property
    def directions(self) -> tuple[str, ...]:
        """The side each detector alerts on (health detectors: both)."""
        return tuple("both" if d.health else self.direction for d in self.detectors)

    @property
    def policies_shared(self) -> bool:
        """True when no policy of the plan keeps per-series state (then a series' checkpoint
        holds no policy state)."""
        return all(d.policy_shared for d in self.detectors)


class DetectorRuntime:
    """Plans for every (group, metric) of the catalog."""

    def __init__(self, plans: Mapping[tuple[str, str], MetricPlan], source: str) -> None:
        self._plans = dict(plans)
        self.source = source  # "catalog" or the config file's path

    def plan(self, group: str, metric: str) -> MetricPlan:
        return self._plans[(group, metric)]

    def plans(self) -> list[MetricPlan]:
        return list(self._plans.values())

    def detector_names(self) -> list[str]:
        return sorted({d.name for p in self._plans.values() for d in p.detectors})

    def reading_metrics(self, group: str) -> frozenset[str]:
        """Metrics of ``group`` with a detector that scores every reading."""
        return frozenset(p.metric for (g, _), p in self._plans.items()
                         if g == group and p.reading_indexes)

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Settings, registry: Registry | None = None
                      ) -> DetectorRuntime:
        """Plans from the catalog, or from ``IOC_DETECTORS_CONFIG`` when set."""
        path = settings.detectors_config
        text = None
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"IOC_DETECTORS_CONFIG: cannot read {path}: "
                                  f"{exc.strerror or exc}") from None
        return cls.build(registry, config_text=text, config_name=path or "catalog",
                         require_plugins=settings.require_plugins)

    @classmethod
    def build(cls, registry: Registry | None = None, *, config_text: str | None = None,
              config_name: str = "config", require_plugins: bool = False) -> DetectorRuntime:
        """Plans from the catalog, changed by a TOML config text if given."""
        if registry is None:
            from detectors.registry import load_all

            with warnings.catch_warnings():
                if not require_plugins:
                    warnings.simplefilter("default")
                registry = load_all(require=require_plugins)
        config: dict[str, Any] = {}
        if config_text is not None:
            try:
                config = tomllib.loads(config_text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{config_name}: not valid TOML: {exc}") from None
        return cls(_Builder(registry, config, config_name).plans(),
                   config_name if config_text is not None else "catalog")


class _Builder:
    def __init__(self, registry: Registry, config: dict[str, Any], name: str) -> None:
        self.reg = registry
        self.cfg = config
        self.name = name
        unknown = set(config) - _TOP_KEYS
        if unknown:
            self.fail("", f"unknown sections {sorted(unknown)} (use policy, params, groups)")
        self.default_policy = self.table(config.get("policy", DEFAULT_POLICY), "policy")
        self.params = self.table(config.get("params", {}), "params")
        for det, p in self.params.items():
            self.known(det, f"params.{det}", vector_ok=True)  # isolation_forest: mvconfig
            self.table(p, f"params.{det}")
        self.groups = self.table(config.get("groups", {}), "groups")
        for g, metrics in self.groups.items():
            if g not in catalog.GROUPS:
                self.fail(f"groups.{g}", f"unknown group (known: {', '.join(catalog.GROUPS)})")
            for m, body in self.table(metrics, f"groups.{g}").items():
                if m != "*" and m not in catalog.GROUPS[g].metrics_by_name:
                    known = ", ".join(catalog.GROUPS[g].metrics_by_name)
                    self.fail(f"groups.{g}.{m}", f"unknown metric (known: {known}, or *)")
                unknown = set(self.table(body, f"groups.{g}.{m}")) - _METRIC_KEYS
                if unknown:
                    self.fail(f"groups.{g}.{m}", f"unknown keys {sorted(unknown)} "
                              f"(use {', '.join(sorted(_METRIC_KEYS))})")

    def fail(self, where: str, reason: str) -> None:
        raise ConfigError(f"{self.name}: {where + ': ' if where else ''}{reason}")

    def table(self, v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            self.fail(where, f"expected a table, got {type(v).__name__}")
        return v

    def names(self, v: Any, where: str) -> list[str]:
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.fail(where, "expected a list of detector names")
        for x in v:
            self.known(x, where)
        return list(v)

    def known(self, name: str, where: str, *, vector_ok: bool = False) -> None:
        try:
            plugin = self.reg.plugin(name)
        except PluginError as exc:
            self.fail(where, f"{name!r}: {exc.reason}" if exc.name == name else str(exc))
        if issubclass(plugin.cls, VectorDetector) and not vector_ok:
            self.fail(where, f"{name!r} is multivariate: it runs per source and per district "
                      "(IOC_MULTIVARIATE), not in a metric's list; tune it under "
                      f"[params.{name}]")

    def plans(self) -> dict[tuple[str, str], MetricPlan]:
        out = {}
        for g in catalog.CATALOG:
            for spec in g.metrics:
                out[(g.slug, spec.name)] = self.plan(g.slug, spec)
        return out

    def plan(self, group: str, spec: catalog.MetricSpec) -> MetricPlan:
        layers = [b for b in (self.groups.get(group, {}).get("*"),
                              self.groups.get(group, {}).get(spec.name)) if b is not None]
        names = list(spec.detectors)
        policy_spec = self.default_policy
        params = catalog_params(group, spec)
        for det, p in self.params.items():
            params.setdefault(det, {}).update(p)
        readings: set[str] = set()
        shadow: set[str] = set()
        direction = spec.harmful
        for body in layers:
            where = f"groups.{group}.{'*' if body is layers[0] and len(layers) == 2 else spec.name}"
            if "detectors" in body:
                names = self.names(body["detectors"], f"{where}.detectors")
            for n in self.names(body.get("add", []), f"{where}.add"):
                if n not in names:
                    names.append(n)
            drop = set(self.names(body.get("remove", []), f"{where}.remove"))
            names = [n for n in names if n not in drop]
            if "policy" in body:
                policy_spec = self.table(body["policy"], f"{where}.policy")
            for det, p in self.table(body.get("params", {}), f"{where}.params").items():
                self.known(det, f"{where}.params.{det}")
                params.setdefault(det, {}).update(self.table(p, f"{where}.params.{det}"))
            readings |= set(self.names(body.get("readings", []), f"{where}.readings"))
            shadow |= set(self.names(body.get("shadow", []), f"{where}.shadow"))
            if "direction" in body:
                direction = body["direction"]
                if direction not in catalog.DIRECTIONS:
                    self.fail(f"{where}.direction", f"expected one of "
                              f"{', '.join(catalog.DIRECTIONS)}, got {direction!r}")
        where = f"groups.{group}.{spec.name}"
        missing = readings - set(names)
        if missing:
            self.fail(f"{where}.readings", f"{sorted(missing)} not among its detectors")
        if shadow & readings:
            self.fail(f"{where}.shadow", f"{sorted(shadow & readings)} also score readings; "
                      "a shadow detector scores windows only")
        names += [n for n in sorted(shadow) if n not in names]
        policy = build_policy(policy_spec, f"{self.name}: {where}.policy"
                              if layers else f"{self.name}: policy")
        plans = []
        for n in names:
            cls = self.reg.get(n)
            kw = params.get(n, {})
            try:
                from_spec = getattr(cls, "from_spec", None)
                proto = from_spec(spec, **kw) if from_spec else cls(**kw)
            except (TypeError, ValueError) as exc:
                self.fail(f"{where}: {n}", f"bad parameters {kw!r}: {exc}")
            plans.append(DetectorPlan(
                name=n, version=cls.version, params=proto.params(), proto=proto,
                policy=policy.clone(), health=cls.health, shared=_stateless(cls),
                policy_shared=type(policy) is Threshold, per_reading=n in readings,
                shadow=n in shadow))
        idx = tuple(i for i, d in enumerate(plans) if d.per_reading)
        return MetricPlan(group, spec.name, spec, tuple(plans), spec.kind, idx, direction)
