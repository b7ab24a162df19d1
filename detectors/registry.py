"""Detector discovery through the ``ioc.detectors`` entry-point group: find, load, validate.

Built-in detectors register in ioc-monitor's own ``pyproject.toml`` exactly as third-party
plugins do in theirs::

    [project.entry-points."ioc.detectors"]
    rate_of_change = "ioc_detector_example:RateOfChange"

Each entry point must name a :class:`~detectors.base.Detector` subclass whose ``name``
equals the entry point's name, with a ``version``, constructible with its defaults, and
passing a quick smoke check of the contract (scores finite and in [0, 1], params JSON-able,
clone and state round trip work). A plugin that fails to import or breaks the contract is
reported at start-up with its name and the cause as :class:`~ioc.errors.PluginError`:
:func:`load_all` raises it when ``require=True``, otherwise issues a warning per failure and
keeps the rest (the failures stay in :attr:`Registry.failures`).

>>> reg = load_all(require=True)
>>> "robust_z" in reg.names()
True
>>> d = reg.create("robust_z", window=16)
>>> d.params()["window"], reg.plugin("robust_z").origin
(16, 'ioc-monitor')
"""

from __future__ import annotations

import inspect
import json
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from detectors.base import Detector, Explanation, VectorDetector, WindowStats
from ioc.errors import PluginError

if TYPE_CHECKING:
    from ioc.catalog import MetricSpec

__all__ = [
    "GROUP",
    "Plugin",
    "PluginWarning",
    "Registry",
    "discover",
    "load_all",
    "load_entry_point",
    "validate_class",
]

GROUP = "ioc.detectors"
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class PluginWarning(UserWarning):
    """A detector plugin was skipped because it failed to load or broke the contract."""


@dataclass(frozen=True, slots=True)
class Plugin:
    """A loaded and validated detector class with where it came from."""

    name: str
    cls: type[Detector]
    origin: str  # distribution name ("ioc-monitor" for the built-ins)
    origin_version: str
    target: str  # "module:attr" of the entry point

    @property
    def version(self) -> str:
        return self.cls.version

    @property
    def kind(self) -> str:
        """``vector`` for multivariate detectors, else the ``input`` (``value``/``window``)."""
        return "vector" if issubclass(self.cls, VectorDetector) else self.cls.input

    @property
    def health(self) -> bool:
        return self.cls.health

    def defaults(self) -> dict[str, Any]:
        """Constructor parameters and their defaults (all have one: validated at load)."""
        return self.cls.defaults()

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what ``ioc detectors list --json`` prints)."""
        doc = inspect.getdoc(self.cls) or ""
        return {
            "name": self.name,
            "version": self.version,
            "origin": self.origin,
            "origin_version": self.origin_version,
            "target": self.target,
            "kind": self.kind,
            "health": self.health,
            "params": {k: _json_default(v) for k, v in self.defaults().items()},
            "summary": doc.splitlines()[0] if doc else "",
        }


@dataclass(slots=True)
class Registry:
    """The detectors found at start-up, by name, plus the plugins that failed."""

    plugins: dict[str, Plugin] = field(default_factory=dict)
    failures: list[PluginError] = field(default_factory=list)

    def names(self) -> list[str]:
        return sorted(self.plugins)

    def plugin(self, name: str) -> Plugin:
        """The plugin called ``name``; PluginError naming the known ones otherwise."""
        try:
            return self.plugins[name]
        except KeyError:
            failed = next((f for f in self.failures if f.name == name), None)
            if failed is not None:
                raise failed from None
            known = ", ".join(self.names()) or "none"
            raise PluginError(name, f"no such detector (known: {known})") from None

    def get(self, name: str) -> type[Detector]:
        return self.plugin(name).cls

    def create(self, name: str, **params: Any) -> Detector:
        """An instance of ``name``; bad parameters raise PluginError naming them."""
        cls = self.get(name)
        try:
            return cls(**params)
        except (TypeError, ValueError) as exc:
            raise PluginError(name, f"bad parameters {params!r}: {exc}") from None

    def for_metric(
        self, spec: MetricSpec, overrides: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Detector]:
        """Instances of the detectors a catalog metric asks for (``spec.detectors``).

        A class with a ``from_spec(spec, **params)`` classmethod (static threshold, physical
        range) takes its limits from the metric; ``overrides`` maps a detector name to extra
        parameters. A name that is not registered raises PluginError.
        """
        out: dict[str, Detector] = {}
        for name in spec.detectors:
            cls = self.get(name)
            params = dict((overrides or {}).get(name, {}))
            try:
                from_spec = getattr(cls, "from_spec", None)
                out[name] = from_spec(spec, **params) if from_spec else cls(**params)
            except (TypeError, ValueError) as exc:
                raise PluginError(name, f"cannot build for metric {spec.name!r}: {exc}") from None
        return out


def discover() -> list[EntryPoint]:
    """The entry points of the ``ioc.detectors`` group, in a stable order."""
    return sorted(entry_points(group=GROUP), key=lambda ep: (ep.name, ep.value))


def load_entry_point(ep: EntryPoint) -> Plugin:
    """Import and validate one entry point; PluginError with the cause if anything is wrong."""
    dist = ep.dist
    origin = dist.name if dist is not None else "?"
    origin_version = dist.version if dist is not None else "?"
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(
            ep.name, f"cannot import {ep.value!r} from {origin}: {type(exc).__name__}: {exc}"
        ) from exc
    validate_class(obj, ep.name)
    return Plugin(ep.name, obj, origin, origin_version, ep.value)


def validate_class(obj: object, name: str) -> None:
    """Check that ``obj`` is a usable detector class registered as ``name``.

    Raises PluginError saying what is wrong. The smoke check is quick (a few dozen updates);
    the full conformance suite is :mod:`detectors.checks`.
    """
    if not (inspect.isclass(obj) and issubclass(obj, Detector)):
        raise PluginError(name, f"{obj!r} is not a subclass of detectors.base.Detector")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise PluginError(name, f"{obj.__name__} does not implement {missing}")
    cls_name = getattr(obj, "name", None)
    if not isinstance(cls_name, str) or not cls_name:
        raise PluginError(name, f"{obj.__name__}.name must be a non-empty string")
    if cls_name != name:
        raise PluginError(name, f"entry point name differs from {obj.__name__}.name={cls_name!r}")
    if not set(name) <= _NAME_OK:
        raise PluginError(name, "name may only use lower-case letters, digits, '_', '.', '-'")
    version = getattr(obj, "version", None)
    if not isinstance(version, str) or not version:
        raise PluginError(name, f"{obj.__name__}.version must be a non-empty string")
    if obj.input not in ("value", "window"):
        raise PluginError(name, f"input must be 'value' or 'window', got {obj.input!r}")
    required = [k for k, v in obj.defaults().items() if v is inspect.Parameter.empty]
    if required:
        raise PluginError(name, f"constructor parameters without a default: {required}")
    positional = [
        p.name
        for p in list(inspect.signature(obj.__init__).parameters.values())[1:]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if positional:
        raise PluginError(name, f"constructor parameters must be keyword-only: {positional}")
    try:
        _smoke(obj)
    except PluginError:
        raise
    except Exception as exc:
        reason = f"contract smoke check failed: {type(exc).__name__}: {exc}"
        raise PluginError(name, reason) from exc


def _smoke(cls: type[Detector]) -> None:
    name = cls.name
    det = cls()
    params = det.params()
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PluginError(name, f"params() is not JSON-able: {exc}") from None
    if set(params) != set(cls.param_names()):
        raise PluginError(name, "params() must return exactly the constructor parameters")
    scores: list[object] = []
    for i in range(40):
        x = 10.0 + (i % 5) * 0.5 + (30.0 if i == 35 else 0.0)
        scores.append(det.update(x, ts=60.0 * i))
    scores.append(det.update(math.nan, ts=2460.0))
    w = WindowStats.of([10.0, 11.0, 12.0], 2460.0, 2520.0)
    scores.append(det.update_window(w))
    scores.append(det.update_window(WindowStats.empty(2520.0, 2580.0)))
    if isinstance(det, VectorDetector):
        scores.append(det.update_vector([1.0], ts=2600.0))
    for s in scores:
        if not isinstance(s, float) or not 0.0 <= s <= 1.0:
            raise PluginError(name, f"a score must be a float in [0, 1], got {s!r}")
    if not isinstance(det.explain(), Explanation):
        raise PluginError(name, "explain() must return detectors.base.Explanation")
    state = det.get_state()
    if not isinstance(state, bytes):
        raise PluginError(name, f"get_state() must return bytes, got {type(state).__name__}")
    twin = det.clone()
    if type(twin) is not cls or twin.params() != det.params():
        raise PluginError(name, "clone() must return the same class with the same params")
    twin.set_state(state)
    a, b = det.score_one(11.0, 2640.0), twin.score_one(11.0, 2640.0)
    if a != b:
        raise PluginError(name, f"after set_state(get_state()) scores differ: {a!r} != {b!r}")


def load_all(
    *, require: bool = False, entry_points: Iterable[EntryPoint] | None = None
) -> Registry:
    """Load every ``ioc.detectors`` plugin.

    With ``require=True`` the first failure is raised (naming how many others failed);
    otherwise each failure is a :class:`PluginWarning` and the registry holds the plugins that
    loaded. Two plugins claiming one name: the second is a failure naming both origins.
    """
    reg = Registry()
    for ep in discover() if entry_points is None else entry_points:
        try:
            plugin = load_entry_point(ep)
            seen = reg.plugins.get(plugin.name)
            if seen is not None:
                if seen.target == plugin.target and seen.origin == plugin.origin:
                    continue  # the same entry point seen twice (duplicate dist metadata)
                raise PluginError(
                    plugin.name,
                    f"{plugin.target} from {plugin.origin} clashes with {seen.target} "
                    f"from {seen.origin}",
                )
            reg.plugins[plugin.name] = plugin
        except PluginError as exc:
            reg.failures.append(exc)
    if reg.failures:
        if require:
            first = reg.failures[0]
            more = len(reg.failures) - 1
            if more:
                raise PluginError(first.name, f"{first.reason} (and {more} more failing)")
            raise first
        for f in reg.failures:
            warnings.warn(str(f), PluginWarning, stacklevel=2)
    return reg


def _json_default(v: Any) -> Any:
    if v is inspect.Parameter.empty:
        return "<required>"
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
