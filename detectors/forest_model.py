"""One fitted, versioned isolation-forest model over named features, and its safe bytes.

:func:`fit_model` fits :class:`~detectors.forest.FittedForest` (scikit-learn's
``IsolationForest`` on whitened rows, its trees flattened into arrays) on a reservoir's rows;
it is pure, so the worker runs it in a thread. :class:`ForestModel` scores a vector the way
:class:`~detectors.forest.IsolationForest` does (``raw`` is the range-aware isolation score,
the score is :func:`~detectors.base.squash_at` of ``raw - 0.5`` against ``threshold - 0.5``)
and explains it: each feature's contribution is how much ``raw`` falls when that feature
alone is put back to its usual value (the fitted sample's median).

**Safe persistence.** :meth:`ForestModel.to_bytes` writes msgpack of plain numbers, strings
and little-endian array bytes (the trees' children, split features, thresholds and ranges,
the whitening and the medians); :meth:`ForestModel.from_bytes` checks every array's length
and that every child index points further down its own tree and every split feature exists,
so bytes from a changelog can at worst be refused (``ValueError``), never run code or send a
walk astray. No pickle anywhere.

**Compact in memory.** A worker may keep thousands of models, so a model holds its trees in
the smallest array types that fit (:func:`compact`: node indices as 16-bit integers when the
forest has fewer than 32,768 nodes, split features as bytes, thresholds and ranges as
32-bit floats): 17 bytes per node instead of 40. The walk reads them as Python numbers all
the same; the bytes on the changelog keep the 4- and 8-byte layout, so a model reads back
exactly as it was.

>>> rng = np.random.default_rng(4)
>>> q = rng.normal(400, 40, 300)
>>> rows = np.column_stack([q, 0.98 * q + rng.normal(0, 5, 300)])
>>> m = fit_model(rows, ("inflow", "outflow"), version=1, n_estimators=30, max_samples=64,
...               seed=0, threshold=0.75)
>>> m.score([410.0, 400.0])[0] < 0.5, m.score([420.0, 120.0])[0] > 0.9  # outflow collapsed
(True, True)
>>> m.contributions([420.0, 120.0])[0][0]
'outflow'
>>> twin = ForestModel.from_bytes(m.to_bytes())
>>> twin.version, twin.score([420.0, 120.0]) == m.score([420.0, 120.0])
(1, True)
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence

import msgspec
import numpy as np

from detectors.base import squash_at
from detectors.forest import FittedForest

__all__ = ["FORMAT", "ForestModel", "compact", "fit_model"]

FORMAT = 1
_I4, _F8 = "<i4", "<f8"


class _Record(msgspec.Struct, array_like=True, frozen=True):
    """The stored form of a model (see the module docstring)."""

    tag: str
    format: int
    version: int
    features: list[str]
    threshold: float
    samples: int
    medians: list[float]
    mu: list[float]
    w: list[list[float]]
    norm: float
    roots: bytes
    left: bytes
    right: bytes
    feat: bytes
    thr: bytes
    lo: bytes
    hi: bytes


_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(_Record)
TAG = "ioc.forest"


def fit_model(rows: np.ndarray, features: Sequence[str], *, version: int, n_estimators: int,
              max_samples: int, seed: int, threshold: float) -> ForestModel:
    """Fit a model on ``rows`` (one vector per row, finite); ``version`` numbers it and,
    with ``seed``, fixes its random state (the same rows give the same model)."""
    x = np.ascontiguousarray(rows, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(features) or len(x) < 2:
        raise ValueError(f"fit_model: need >= 2 rows of {len(features)} features, "
                         f"got shape {x.shape}")
    fitted = FittedForest.fit(array.array("d", x.ravel().tolist()), len(features),
                              n_estimators=n_estimators, max_samples=max_samples,
                              random_state=(seed * 7919 + version) % 2**32)
    return ForestModel(compact(fitted), tuple(features), version=version, threshold=threshold,
                       samples=len(x))


class ForestModel:
    """A fitted model: features, version, threshold and the flattened forest."""

    __slots__ = ("features", "forest", "samples", "threshold", "version")

    def __init__(self, forest: FittedForest, features: tuple[str, ...], *, version: int,
                 threshold: float, samples: int) -> None:
        self.forest = forest
        self.features = features
        self.version = version
        self.threshold = threshold
        self.samples = samples

    def clean(self, x: Sequence[float]) -> list[float] | None:
        """``x`` with missing entries put to the usual value (None: wrong length)."""
        return self.forest.clean(x, len(self.features))

    def raw(self, row: list[float]) -> float:
        """The range-aware isolation score of a clean row (about 0.45 for ordinary ones)."""
        return self.forest.path_scores(self.forest.transform(row))[1]

    def score(self, x: Sequence[float]) -> tuple[float, float]:
        """(score in [0, 1], raw isolation) of a vector; (0, 0) if it cannot be scored."""
        row = self.clean(x)
        if row is None:
            return 0.0, 0.0
        raw = self.raw(row)
        return min(1.0, max(0.0, squash_at(raw - 0.5, self.threshold - 0.5))), raw

    def contributions(self, x: Sequence[float]) -> list[tuple[str, float]]:
        """(feature, share of the raw score above usual it explains), largest first: how much
        ``raw`` falls when that feature alone is put back to its median."""
        row = self.clean(x)
        if row is None:
            return []
        base = self.raw(row)
        drops = []
        for i, usual in enumerate(self.forest.medians):
            probe = list(row)
            probe[i] = usual
            drops.append(max(0.0, base - self.raw(probe)))
        total = sum(drops)
        shares = [d / total if total > 0 else 0.0 for d in drops]
        return sorted(zip(self.features, shares, strict=True), key=lambda p: -p[1])

    def usual(self, feature: str) -> float:
        """The fitted sample's median of ``feature``."""
        return self.forest.medians[self.features.index(feature)]

    # --- bytes -----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        f = self.forest

        def arr(a: array.array, dtype: str) -> bytes:
            return np.asarray(a, dtype=dtype).tobytes()

        return _ENC.encode(_Record(
            TAG, FORMAT, self.version, list(self.features), self.threshold, self.samples,
            list(f.medians), list(f.mu), [list(r) for r in f.w], f.norm,
            arr(f.roots, _I4), arr(f.left, _I4), arr(f.right, _I4), arr(f.feat, _I4),
            arr(f.thr, _F8), arr(f.lo, _F8), arr(f.hi, _F8)))

    @classmethod
    def from_bytes(cls, data: bytes) -> ForestModel:
        """The model of :meth:`to_bytes`; ``ValueError`` for anything that does not check."""
        try:
            r = _DEC.decode(data)
        except (msgspec.DecodeError, TypeError) as exc:
            raise ValueError(f"not a forest model: {exc}") from None
        if r.tag != TAG or r.format != FORMAT:
            raise ValueError(f"not a forest model of format {FORMAT}")
        d = len(r.features)
        ints = [_ints(b) for b in (r.roots, r.left, r.right, r.feat)]
        floats = [_floats(b) for b in (r.thr, r.lo, r.hi)]
        roots, left, right, feat = ints
        _check(d, r, roots, left, right, feat, floats)
        f = FittedForest()
        f.roots, f.left, f.right, f.feat = (array.array("i", a.tolist()) for a in ints)
        f.thr, f.lo, f.hi = (array.array("d", a.tolist()) for a in floats)
        f.medians, f.mu = [float(v) for v in r.medians], [float(v) for v in r.mu]
        f.w = [[float(v) for v in row] for row in r.w]
        f.norm = float(r.norm)
        return cls(compact(f), tuple(r.features), version=int(r.version),
                   threshold=float(r.threshold), samples=int(r.samples))


def compact(f: FittedForest) -> FittedForest:
    """``f`` with its tree arrays in the smallest types that hold them (in place): indices
    ``h`` below 32,768 nodes (else ``i``), features ``b`` below 128 (else ``h``), floats
    ``f``. Thresholds and ranges are rounded to 32 bits once, here, so a model scores the
    same before and after its bytes' round trip.

    >>> f = FittedForest()
    >>> f.left, f.thr = array.array("i", [1, -1]), array.array("d", [0.1, 2.0])
    >>> g = compact(f)
    >>> g.left.typecode, g.thr.typecode, g.feat.typecode
    ('h', 'f', 'b')
    """
    index = "h" if len(f.left) < 2**15 else "i"
    feature = "b" if max(f.feat, default=0) < 2**7 else "h"
    f.roots, f.left, f.right = (array.array(index, a) for a in (f.roots, f.left, f.right))
    f.feat = array.array(feature, f.feat)
    f.thr, f.lo, f.hi = (array.array("f", a) for a in (f.thr, f.lo, f.hi))
    return f


def _ints(b: bytes) -> np.ndarray:
    if len(b) % 4:
        raise ValueError("forest model: an int array's length is not a multiple of 4")
    return np.frombuffer(b, dtype=_I4).astype(np.int64)


def _floats(b: bytes) -> np.ndarray:
    if len(b) % 8:
        raise ValueError("forest model: a float array's length is not a multiple of 8")
    return np.frombuffer(b, dtype=_F8).astype(np.float64)


def _check(d: int, r: _Record, roots: np.ndarray, left: np.ndarray, right: np.ndarray,
           feat: np.ndarray, floats: list[np.ndarray]) -> None:
    """Refuse arrays a walk could stray in: every child further down, inside its own tree."""
    n = len(left)
    if d < 1 or not (len(r.medians) == len(r.mu) == len(r.w) == d) or any(
            len(row) != d for row in r.w):
        raise ValueError("forest model: features, medians and whitening differ in size")
    if not all(len(a) == n for a in (right, feat, *floats)) or not len(roots) or not n:
        raise ValueError("forest model: tree arrays differ in length")
    if not all(math.isfinite(v) for v in (*r.medians, *r.mu, r.norm, r.threshold)):
        raise ValueError("forest model: non-finite medians, centre, norm or threshold")
    if roots[0] != 0 or np.any(np.diff(roots) <= 0) or roots[-1] >= n:
        raise ValueError("forest model: tree roots out of order")
    ends = np.append(roots[1:], n)
    tree_end = np.repeat(ends, np.diff(np.append(roots, n)))  # per node: its tree's end
    idx = np.arange(n)
    leaf = feat < 0
    split = ~leaf
    if np.any(leaf & ((left != -1) | (right != -1))) or np.any(feat >= d):
        raise ValueError("forest model: a leaf with children or a split on no feature")
    for child in (left, right):
        if np.any(split & ((child <= idx) | (child >= tree_end))):
            raise ValueError("forest model: a child index outside its tree")
