"""The contract checks: parameters, scores, score-before-learn, state, clones, seeds, hostile
input and explanations (part of the public suite, :data:`detectors.checks.CHECKS`).

Each takes a *target* (a detector class, an instance or a zero-argument factory), returns a
one-line summary and raises ``AssertionError`` naming the detector when the contract is broken.

>>> from detectors.statistical import RobustZScore
>>> check_state_round_trip(RobustZScore(window=8))
'state 38 bytes'
"""

from __future__ import annotations

import inspect
import json

from detectors.base import Explanation
from detectors.checks_streams import (
    Target,
    apply_step,
    failure,
    hostile_stream,
    learn_step,
    same_score,
    score_step,
    stream,
    target_factory,
    valid_score,
)

__all__ = [
    "check_clone_is_fresh",
    "check_degrades_gracefully",
    "check_explain",
    "check_params",
    "check_score_before_learn",
    "check_scores_in_range",
    "check_seed_reproducible",
    "check_state_round_trip",
]


def check_params(target: Target) -> str:
    """Constructor parameters are keyword-only with defaults; ``params()`` is JSON-able and
    names exactly them; ``clone()`` keeps them and the class."""
    det = target_factory(target)()
    cls = type(det)
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise failure(det, f"constructor parameter {p.name!r} must be keyword-only")
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty:
            raise failure(det, f"constructor parameter {p.name!r} needs a default")
    params = det.params()
    if set(params) != set(cls.param_names()):
        raise failure(det, f"params() keys {sorted(params)} != parameters {cls.param_names()}")
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise failure(det, f"params() is not JSON-able: {exc}") from None
    twin = det.clone()
    if type(twin) is not cls or twin.params() != params:
        raise failure(det, "clone() must give the same class and params")
    for attr in ("name", "version"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise failure(det, f"class attribute {attr!r} must be a non-empty string")
    return f"{len(params)} params: {', '.join(params) or '-'}"


def check_scores_in_range(target: Target) -> str:
    """Every score over a stream with shifts, spikes, a flatline and a silence is a finite
    float in [0, 1]."""
    det = target_factory(target)()
    top = 0.0
    n = 0
    for step in stream(det):
        top = max(top, valid_score(det, apply_step(det, step), f"{step[0]} step {n}"))
        n += 1
    return f"{n} scores in [0, 1], max {top:.3f}"


def check_score_before_learn(target: Target) -> str:
    """Scoring changes no state, and ``update`` equals ``score_*`` followed by ``learn_*``."""
    make = target_factory(target)
    a, b = make(), make()
    for i, step in enumerate(stream(a, 400)):
        before = a.get_state()
        s1 = score_step(a, step)
        s1_again = score_step(a, step)
        if a.get_state() != before:
            raise failure(a, f"score_* changed the state at step {i} ({step[0]})")
        if not same_score(s1, s1_again):
            raise failure(a, f"scoring twice gave {s1!r} then {s1_again!r} at step {i}")
        learn_step(a, step)
        s2 = apply_step(b, step)
        if not same_score(s1, s2):
            raise failure(a, f"update gave {s2!r}, score then learn gave {s1!r} at step {i}")
    return "score_* is pure; update = score then learn"


def check_state_round_trip(target: Target) -> str:
    """A clone restored with ``set_state(get_state())`` scores exactly like the original."""
    make = target_factory(target)
    det = make()
    steps = list(stream(det, 600, seed=1))
    sizes = []
    for cut in (0, 150, 450):
        det = make()
        for step in steps[:cut]:
            apply_step(det, step)
        state = det.get_state()
        if not isinstance(state, bytes):
            raise failure(det, f"get_state() must return bytes, got {type(state).__name__}")
        sizes.append(len(state))
        twin = make()
        twin.set_state(state)
        if twin.get_state() != state:
            raise failure(det, f"get_state() after set_state() differs (cut at {cut})")
        for i, step in enumerate(steps[cut:], cut):
            s1, s2 = apply_step(det, step), apply_step(twin, step)
            if not same_score(s1, s2):
                raise failure(det, f"restored copy scored {s2!r}, original {s1!r} at step {i}")
    try:
        make().set_state(b"\x93not a state")
    except ValueError:
        pass
    except Exception as exc:
        raise failure(det, f"set_state(bad bytes) must raise ValueError, got {exc!r}") from None
    return f"state {sizes[-1]} bytes"


def check_clone_is_fresh(target: Target) -> str:
    """A clone of a trained detector scores like a brand-new one, not like its parent."""
    make = target_factory(target)
    parent = make()
    steps = list(stream(parent, 500, seed=2))
    for step in steps[:300]:
        apply_step(parent, step)
    clone, fresh = parent.clone(), make()
    if clone.get_state() != fresh.get_state():
        raise failure(parent, "clone() carries state over (its get_state() differs from new)")
    for i, step in enumerate(steps[300:]):
        s1, s2 = apply_step(clone, step), apply_step(fresh, step)
        if not same_score(s1, s2):
            raise failure(parent, f"clone scored {s1!r}, a new instance {s2!r} at step {i}")
    return "clone starts fresh"


def check_seed_reproducible(target: Target) -> str:
    """Two instances with the same parameters (and seed) give identical scores; for a
    detector with a ``seed`` parameter, set it explicitly too."""
    make = target_factory(target)
    a, b = make(), make()
    if "seed" in a.params():
        params = a.params() | {"seed": 12345}
        a, b = type(a)(**params), type(a)(**params)
    for i, step in enumerate(stream(a, 600, seed=3)):
        s1, s2 = apply_step(a, step), apply_step(b, step)
        if not same_score(s1, s2):
            raise failure(a, f"two identical instances disagree at step {i}: {s1!r} != {s2!r}")
    return "reproducible" + (" with seed" if "seed" in a.params() else "")


def check_degrades_gracefully(target: Target) -> str:
    """NaN, inf, None, huge values, time jumps and reversals, empty windows and windows with
    missing statistics, wrong-length vectors: no exception, and every score stays a finite
    float in [0, 1]; normal input afterwards is scored normally."""
    det = target_factory(target)()
    n = 0
    for step in hostile_stream(det):
        try:
            s = apply_step(det, step)
        except Exception as exc:
            raise failure(det, f"raised {type(exc).__name__}: {exc} on {step!r}") from None
        valid_score(det, s, f"{step!r}")
        n += 1
    try:
        det.explain()
        det.get_state()
    except Exception as exc:
        raise failure(det, f"explain()/get_state() raised {exc!r} after hostile input") from None
    return f"{n} hostile and normal steps handled"


def check_explain(target: Target) -> str:
    """``explain()`` returns an Explanation whose ``score`` is the last score returned, with
    a float ``raw``, recent values as floats and a ``detail`` of str -> float | str."""
    det = target_factory(target)()
    for i, step in enumerate(stream(det, 300, seed=6)):
        s = apply_step(det, step)
        e = det.explain()
        if not isinstance(e, Explanation):
            raise failure(det, f"explain() returned {type(e).__name__}, not Explanation")
        if not same_score(e.score, s):
            raise failure(det, f"explain().score {e.score!r} is not the last score {s!r} ({i})")
        if not isinstance(e.raw, float | int) or not isinstance(e.baseline, float | int):
            raise failure(det, "explain().raw and .baseline must be numbers")
        if e.threshold is not None and not isinstance(e.threshold, float | int):
            raise failure(det, "explain().threshold must be a number or None")
        if not isinstance(e.contributing, tuple) or not all(
            isinstance(v, float | int) for v in e.contributing
        ):
            raise failure(det, "explain().contributing must be a tuple of numbers")
        if not all(
            isinstance(k, str) and isinstance(v, float | int | str) for k, v in e.detail.items()
        ):
            raise failure(det, "explain().detail must map str to float or str")
    return "explanations well-formed"
