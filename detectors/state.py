"""Detector state as compact bytes: named attributes to msgpack and back.

:meth:`Detector.get_state <detectors.base.Detector.get_state>` is :func:`dump_attrs` of the
attributes a detector lists in ``state_attrs``, and ``set_state`` is :func:`load_attrs`; the
alert policies use the same pair. The bytes are msgpack ``[tag, *values]`` (arrays as their
raw bytes), so a state written by a worker is read back by the next one bit for bit. A
dotted name reaches into a part the object holds (``"_days.sums"``: attribute ``sums`` of
``obj._days``), so a detector built from parts still lists its state in one place.

>>> class Part:
...     def __init__(self): self.ring = array.array("d", [1.0, 2.0])
>>> class P:
...     def __init__(self): self.n, self.part = 2, Part()
>>> p, q = P(), P(); q.n = 0; q.part.ring = array.array("d")
>>> load_attrs(q, ("n", "part.ring"), "1", dump_attrs(p, ("n", "part.ring"), "1"))
>>> q.n, list(q.part.ring)
(2, [1.0, 2.0])
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec

__all__ = ["dump_attrs", "load_attrs"]

_ENC = msgspec.msgpack.Encoder()


def dump_attrs(obj: object, attrs: Sequence[str], tag: str) -> bytes:
    """Msgpack ``[tag, *values]`` of ``obj``'s attributes (arrays as raw bytes).

    >>> class P:
    ...     def __init__(self): self.n, self.ring = 2, array.array("d", [1.0, 2.0])
    >>> p, q = P(), P(); q.n = 0
    >>> load_attrs(q, ("n", "ring"), "1", dump_attrs(p, ("n", "ring"), "1")); q.n, list(q.ring)
    (2, [1.0, 2.0])
    """
    out: list[Any] = [tag]
    for a in attrs:
        v = getattr(obj, a) if "." not in a else attrgetter(a)(obj)
        out.append(v.tobytes() if isinstance(v, array.array) else v)
    return _ENC.encode(out)


def load_attrs(
    obj: object, attrs: Sequence[str], tag: str, data: bytes, *, what: str = "state"
) -> None:
    """Inverse of :func:`dump_attrs`; the current attribute types guide the decoding.

    Raises ``ValueError`` when the bytes are not msgpack, the layout or the tag differ.
    """
    try:
        got = msgspec.msgpack.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"{what}: state is not msgpack: {exc}") from None
    if not isinstance(got, list) or len(got) != len(attrs) + 1:
        raise ValueError(f"{what}: state does not match this layout")
    if got[0] != tag:
        raise ValueError(f"{what}: state is from version {got[0]!r}, this is {tag!r}")
    values: list[Any] = []
    for a, v in zip(attrs, got[1:], strict=True):
        cur = getattr(obj, a) if "." not in a else attrgetter(a)(obj)
        if isinstance(cur, array.array):
            if not isinstance(v, bytes) or len(v) % cur.itemsize:
                raise ValueError(f"{what}: {a} is not a {cur.typecode!r} array")
            arr = array.array(cur.typecode)
            arr.frombytes(v)
            v = arr
        elif isinstance(cur, tuple) and isinstance(v, list):
            v = tuple(v)
        elif isinstance(cur, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        values.append(v)
    for a, v in zip(attrs, values, strict=True):  # all or nothing
        if "." in a:
            path, _, a = a.rpartition(".")
            setattr(attrgetter(path)(obj), a, v)
        else:
            setattr(obj, a, v)
