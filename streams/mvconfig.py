"""Which multivariate models a worker runs, with which parameters and policy.

``IOC_MULTIVARIATE`` names the subjects (``sources``: one model per source whose kind
measures several metrics; ``indicators``: one per group and district over its indicators;
``all``; ``off``). The detector config file (``IOC_DETECTORS_CONFIG``) tunes the forest with
``[params.isolation_forest]`` and the default ``[policy]`` decides its alerts, like every
other detector's::

    [policy]
    threshold = 0.9
    [params.isolation_forest]
    min_samples = 48      # vectors (windows) before the first fit
    refit_every = 288     # vectors between refits (a day of five-minute windows)

>>> c = MultivariateConfig.build("all", config_text='''
... [params.isolation_forest]
... min_samples = 24
... ''')
>>> sorted(c.subjects), c.params.min_samples, c.policy
(['combined', 'indicators'], 24, Threshold(t=0.9))
>>> MultivariateConfig.build("sources", config_text="[params.isolation_forest]\\nbogus = 1")
Traceback (most recent call last):
...
ioc.errors.ConfigError: config: params.isolation_forest: bad parameters {'bogus': 1}: ...
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detectors.policies import Policy
from detectors.vector_model import IsoParams
from ioc.errors import ConfigError
from streams.runtime import DEFAULT_POLICY, build_policy

if TYPE_CHECKING:
    from ioc.settings import Settings

__all__ = ["INDICATORS", "MODES", "SOURCES", "MultivariateConfig"]

SOURCES = "combined"      # the alert metric of a source's vector
INDICATORS = "indicators"  # the alert metric of a group's indicators in a district
MODES: dict[str, frozenset[str]] = {
    "off": frozenset(), "sources": frozenset({SOURCES}),
    "indicators": frozenset({INDICATORS}), "all": frozenset({SOURCES, INDICATORS}),
}


@dataclass(frozen=True, slots=True)
class MultivariateConfig:
    """The subjects to model, the forest's parameters and the policy of its alerts."""

    subjects: frozenset[str]
    params: IsoParams
    policy: Policy
    partitions: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> MultivariateConfig:
        path = settings.detectors_config
        text = None
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"IOC_DETECTORS_CONFIG: cannot read {path}: "
                                  f"{exc.strerror or exc}") from None
        return cls.build(settings.multivariate, config_text=text, config_name=path or "config",
                         partitions=settings.partitions)

    @classmethod
    def build(cls, mode: str, *, config_text: str | None = None, config_name: str = "config",
              partitions: int = 4) -> MultivariateConfig:
        if mode not in MODES:
            raise ConfigError(f"IOC_MULTIVARIATE: {mode!r} is not one of {', '.join(MODES)}")
        cfg: dict[str, Any] = {}
        if config_text is not None:
            try:
                cfg = tomllib.loads(config_text)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{config_name}: not valid TOML: {exc}") from None
        raw = cfg.get("params", {}).get("isolation_forest", {})
        if not isinstance(raw, dict):
            raise ConfigError(f"{config_name}: params.isolation_forest: expected a table")
        try:
            params = IsoParams(**raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{config_name}: params.isolation_forest: bad parameters "
                              f"{raw!r}: {exc}") from None
        policy = build_policy(cfg.get("policy", DEFAULT_POLICY), f"{config_name}: policy")
        return cls(MODES[mode], params, policy, partitions)
